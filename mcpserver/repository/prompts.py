"""The snippets a user can read, as prompts: with what their names are made of.

A prompt's name needs its workspace's slug when the caller is a member of that
workspace, and only the workspace id otherwise (``mcpserver.prompt_names``). The slug is
looked up through the caller's own membership row, so both databases give the same
answer (on Postgres RLS would hide the workspace row of a non-member anyway).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.errors import NotFound
from mcpserver.prompt_names import PromptName, id_range, prompt_name
from mcpserver.repository.snippets import Position, readable_by
from shared.models import Snippet, Workspace, WorkspaceMember


@dataclass(frozen=True)
class PromptSource:
    id: uuid.UUID
    workspace_id: uuid.UUID
    slug: str
    title: str
    description: str
    variables: list[dict[str, Any]]
    updated_at: datetime
    workspace_slug: str | None
    """None when the caller is not a member of the snippet's workspace (a public snippet)."""
    body: str = ""

    @property
    def name(self) -> str:
        return prompt_name(self.workspace_slug, self.workspace_id, self.slug)


_COLUMNS = (
    Snippet.id,
    Snippet.workspace_id,
    Snippet.slug,
    Snippet.title,
    Snippet.description,
    Snippet.variables,
    Snippet.updated_at,
    Workspace.slug,
)


def _with_workspace_slug(user_id: uuid.UUID, *columns: Any) -> Select[tuple[Any, ...]]:
    mine = and_(WorkspaceMember.workspace_id == Snippet.workspace_id, WorkspaceMember.user_id == user_id)
    return (
        select(*_COLUMNS, *columns)
        .outerjoin(WorkspaceMember, mine)
        .outerjoin(Workspace, and_(Workspace.id == Snippet.workspace_id, WorkspaceMember.user_id.is_not(None)))
        .where(readable_by(user_id))
    )


async def list_page(
    session: AsyncSession, user_id: uuid.UUID, *, after: Position | None, limit: int
) -> tuple[list[PromptSource], Position | None]:
    """One page of the user's prompts, newest change first (the order and index of list_snippets)."""
    query = _with_workspace_slug(user_id)
    if after is not None:
        query = query.where(
            or_(
                Snippet.updated_at < after.updated_at,
                and_(Snippet.updated_at == after.updated_at, Snippet.id < after.id),
            )
        )
    query = query.order_by(Snippet.updated_at.desc(), Snippet.id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    page = [PromptSource(*row) for row in rows[:limit]]
    more = len(rows) > limit and page
    return page, (Position(page[-1].updated_at, page[-1].id) if more else None)


async def get(session: AsyncSession, user_id: uuid.UUID, name: PromptName) -> PromptSource:
    """The prompt of that name for this user, with its body; anything else is "not found"."""
    query = _with_workspace_slug(user_id, Snippet.body).where(Snippet.slug == name.snippet_slug)
    if name.workspace_slug is not None:
        query = query.where(Workspace.slug == name.workspace_slug)
    else:
        assert name.workspace_id_prefix is not None
        low, high = id_range(name.workspace_id_prefix)
        query = query.where(Snippet.workspace_id.between(low, high), WorkspaceMember.user_id.is_(None))
    row = (await session.execute(query.order_by(Snippet.workspace_id).limit(1))).one_or_none()
    if row is None:
        raise NotFound("prompt")
    return PromptSource(*row)
