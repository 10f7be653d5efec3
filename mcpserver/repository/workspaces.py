"""Workspaces and the caller's membership in them."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import Workspace, WorkspaceMember


@dataclass(frozen=True)
class WorkspaceView:
    id: uuid.UUID
    name: str
    slug: str
    role: str


def slugify(text: str, max_length: int = 60) -> str:
    """Lower-case ASCII words joined by single hyphens (``"Team Notes!"`` → ``team-notes``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "workspace"


async def list_for(session: AsyncSession, user_id: uuid.UUID) -> list[WorkspaceView]:
    """The workspaces the user belongs to, with the user's role, by name."""
    rows = await session.execute(
        select(Workspace.id, Workspace.name, Workspace.slug, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
        .order_by(Workspace.name, Workspace.id)
    )
    return [WorkspaceView(*row) for row in rows]


async def create(session: AsyncSession, user_id: uuid.UUID, name: str) -> WorkspaceView:
    """Create a workspace owned by the user; a taken slug gets a short random suffix."""
    base = slugify(name)
    for attempt in range(5):
        slug = base if attempt == 0 else f"{base[:53]}-{secrets.token_hex(3)}"
        workspace_id = uuid.uuid4()
        try:
            async with session.begin_nested():
                session.add(Workspace(id=workspace_id, name=name, slug=slug, created_by=user_id))
                await session.flush()
        except IntegrityError:
            continue
        session.add(WorkspaceMember(workspace_id=workspace_id, user_id=user_id, role="owner"))
        await session.flush()
        return WorkspaceView(workspace_id, name, slug, "owner")
    raise RuntimeError("could not find a free workspace slug")
