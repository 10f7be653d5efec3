"""The history of a snippet: its immutable versions, newest first.

A version is visible exactly when its snippet is (the Postgres policy on
``snippet_versions`` says the same); callers first read the snippet through
``snippets.get``, which answers "not found" for anything invisible, then its versions.
Rows are only ever inserted (``snippets._append_version``); restoring an old version
saves its content as a new one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import InvalidArgument, PermissionDenied
from mcpserver.repository import snippets as snippet_repo
from mcpserver.repository.snippets import SnippetView
from shared.models import SnippetVersion, User
from shared.variables import Variable, VariableError, declare


@dataclass(frozen=True)
class VersionSummary:
    version: int
    title: str
    author_id: uuid.UUID | None
    author_name: str | None
    message: str
    created_at: datetime


@dataclass(frozen=True)
class VersionView:
    """A complete past (or the present) state of a snippet."""

    version: int
    title: str
    description: str
    body: str
    tags: list[str]
    visibility: str
    variables: list[dict[str, Any]]
    author_id: uuid.UUID | None
    message: str
    created_at: datetime


async def list_versions(
    session: AsyncSession, snippet: SnippetView, *, before: int | None, limit: int
) -> tuple[list[VersionSummary], int | None]:
    """One page of the versions of a visible snippet, newest first; where the next page starts."""
    query = (
        select(
            SnippetVersion.version,
            SnippetVersion.title,
            SnippetVersion.author_id,
            User.name,
            SnippetVersion.message,
            SnippetVersion.created_at,
        )
        # Authors the caller shares no workspace with stay nameless (users policy on Postgres).
        .outerjoin(User, User.id == SnippetVersion.author_id)
        .where(SnippetVersion.snippet_id == snippet.id)
        .order_by(SnippetVersion.version.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(SnippetVersion.version < before)
    rows = (await session.execute(query)).all()
    page = [VersionSummary(*row) for row in rows[:limit]]
    return page, (page[-1].version if len(rows) > limit and page else None)


async def get_version(session: AsyncSession, snippet: SnippetView, version: int) -> VersionView:
    """Version ``version`` of a visible snippet (the current one is its latest version)."""
    row = (
        await session.execute(
            select(
                SnippetVersion.version,
                SnippetVersion.title,
                SnippetVersion.description,
                SnippetVersion.body,
                SnippetVersion.tags,
                SnippetVersion.visibility,
                SnippetVersion.variables,
                SnippetVersion.author_id,
                SnippetVersion.message,
                SnippetVersion.created_at,
            ).where(SnippetVersion.snippet_id == snippet.id, SnippetVersion.version == version)
        )
    ).one_or_none()
    if row is None:
        raise InvalidArgument("version", f"this snippet has versions 1 to {snippet.version}")
    return VersionView(*row)


def as_of(snippet: SnippetView, version: VersionView) -> SnippetView:
    """The snippet as it was at ``version`` (identity, slug and permissions as they are now)."""
    return replace(
        snippet,
        title=version.title,
        description=version.description,
        body=version.body,
        tags=version.tags,
        visibility=version.visibility,
        variables=version.variables,
        version=version.version,
        updated_at=version.created_at,
    )


async def restore(
    session: AsyncSession,
    caller: Caller,
    snippet: SnippetView,
    number: int,
    *,
    expected_version: int | None,
    message: str,
) -> SnippetView:
    """Bring back version ``number``'s content as a new version (the restore tool and the web page).

    Title, description, body, tags and variables come back; visibility and slug stay.
    """
    if not snippet.can_edit:
        raise PermissionDenied("only its creator or an owner of its workspace may restore this snippet")
    old = await get_version(session, snippet, number)
    try:
        variables = declare(old.body, None, [Variable.from_dict(v) for v in old.variables])
    except VariableError as exc:
        raise InvalidArgument("version", f"version {number} cannot be restored: {exc}") from None
    restored = snippet_repo.Changes(
        title=old.title, description=old.description, body=old.body, tags=old.tags, variables=variables
    )
    return await snippet_repo.change(
        session,
        caller,
        snippet.id,
        restored,
        expected_version=expected_version,
        message=message,
        action="snippet.restore",
    )
