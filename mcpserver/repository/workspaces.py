"""Workspaces and the caller's membership in them."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import NotFound
from mcpserver.prompt_names import FOREIGN_WORKSPACE
from mcpserver.repository import audit
from shared.models import Workspace, WorkspaceMember


@dataclass(frozen=True)
class WorkspaceView:
    id: uuid.UUID
    name: str
    slug: str
    role: str


def slugify(text: str, max_length: int = 60, fallback: str = "workspace") -> str:
    """Lower-case ASCII words joined by single hyphens (``"Team Notes!"`` → ``team-notes``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or fallback


async def role_of(session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID) -> str | None:
    """The user's role in the workspace, or None for a non-member."""
    return await session.scalar(_ROLE, {"workspace": workspace_id, "user": user_id})


_ROLE = select(WorkspaceMember.role).where(
    WorkspaceMember.workspace_id == bindparam("workspace"), WorkspaceMember.user_id == bindparam("user")
)
"""Built once (asked on every write), values as parameters."""


async def list_for(
    session: AsyncSession, user_id: uuid.UUID, *, after: tuple[str, uuid.UUID] | None = None, limit: int | None = None
) -> list[WorkspaceView]:
    """The workspaces the user belongs to, with the user's role, by name (then id), after ``after``."""
    query = (
        select(Workspace.id, Workspace.name, Workspace.slug, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
        .order_by(Workspace.name, Workspace.id)
    )
    if after is not None:
        name, last_id = after
        query = query.where(or_(Workspace.name > name, and_(Workspace.name == name, Workspace.id > last_id)))
    if limit is not None:
        query = query.limit(limit)
    return [WorkspaceView(*row) for row in await session.execute(query)]


async def get_for(session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID) -> WorkspaceView:
    """One of the user's workspaces; any other answers as if it did not exist."""
    row = (
        await session.execute(
            select(Workspace.id, Workspace.name, Workspace.slug, WorkspaceMember.role)
            .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
            .where(WorkspaceMember.user_id == user_id, Workspace.id == workspace_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("workspace")
    return WorkspaceView(*row)


async def create(session: AsyncSession, caller: Caller, name: str) -> WorkspaceView:
    """Create a workspace owned by the caller; a taken slug gets a short random suffix."""
    base = slugify(name)
    if FOREIGN_WORKSPACE.match(base):  # that shape names other people's workspaces in prompt names
        base += "-team"
    for attempt in range(5):
        slug = base if attempt == 0 else f"{base[:53]}-{secrets.token_hex(3)}"
        workspace_id = uuid.uuid4()
        try:
            async with session.begin_nested():
                session.add(Workspace(id=workspace_id, name=name, slug=slug, created_by=caller.user_id))
                await session.flush()
        except IntegrityError:
            continue
        session.add(WorkspaceMember(workspace_id=workspace_id, user_id=caller.user_id, role="owner"))
        await session.flush()
        await audit.record(session, caller, "workspace.create", workspace_id=workspace_id, target=str(workspace_id))
        return WorkspaceView(workspace_id, name, slug, "owner")
    raise RuntimeError("could not find a free workspace slug")
