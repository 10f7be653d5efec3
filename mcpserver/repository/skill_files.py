"""Snippets as skills: finding them by workspace and name, and their supporting files.

A skill is a snippet the caller can read (``snippets.readable_by``), so the read rule is
the snippet's; a supporting file is read with its snippet and changed by whoever may change
the snippet (``snippets.may_write``) — the rules the Postgres policies of ``snippet_files``
apply again (migration 0005).

The workspace label in a skill's URI is the workspace's slug for its members and its id
otherwise: a public snippet's workspace is not the caller's to see.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from mcpserver.repository import audit
from mcpserver.repository.snippets import SUMMARY, Position, SnippetView, readable_by
from mcpserver.repository.snippets import get as get_snippet
from mcpserver.skills import limits, paths
from shared.models import Snippet, SnippetFile, Workspace, WorkspaceMember, utcnow
from shared.skill_format import skill_name


@dataclass(frozen=True)
class SkillRow:
    """A readable snippet and the workspace label its skill URI carries."""

    view: SnippetView
    workspace: str


@dataclass(frozen=True)
class FileInfo:
    path: str
    media_type: str
    sha256: str
    size: int


def _my_workspaces(user_id: uuid.UUID) -> Any:
    return select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == user_id)


def _skills(user_id: uuid.UUID) -> Any:
    """Readable snippets with body and variables (as ``snippets.get`` reads them) and the member's slug."""
    member_workspace = and_(Workspace.id == Snippet.workspace_id, Workspace.id.in_(_my_workspaces(user_id)))
    return (
        select(*SUMMARY, Snippet.body, Snippet.variables, Workspace.slug)
        .select_from(Snippet)
        .outerjoin(Workspace, member_workspace)
        .where(readable_by(user_id))
    )


def _row(row: Any) -> SkillRow:
    *values, slug = row
    view = SnippetView(*values)
    return SkillRow(view, slug if slug is not None else str(view.workspace_id))


async def list_skills(
    session: AsyncSession, user_id: uuid.UUID, *, after: Position | None, limit: int
) -> tuple[list[SkillRow], Position | None]:
    """One page of the caller's skills, newest change first (the order of ``list_snippets``)."""
    query = _skills(user_id)
    if after is not None:
        query = query.where(
            or_(
                Snippet.updated_at < after.updated_at,
                and_(Snippet.updated_at == after.updated_at, Snippet.id < after.id),
            )
        )
    rows = (await session.execute(query.order_by(Snippet.updated_at.desc(), Snippet.id.desc()).limit(limit + 1))).all()
    page = [_row(row) for row in rows[:limit]]
    more = len(rows) > limit and page
    return page, (Position(page[-1].view.updated_at, page[-1].view.id) if more else None)


async def find_skill(session: AsyncSession, user_id: uuid.UUID, workspace: str, name: str) -> SkillRow:
    """The skill ``name`` in the workspace labelled ``workspace``; NotFound when the caller cannot read one."""
    workspace_id = await _workspace_for_label(session, user_id, workspace)
    if workspace_id is None:
        raise NotFound("skill")
    in_workspace = Snippet.workspace_id == workspace_id
    # Almost every slug is its own skill name; the rest (long slugs) need a look at each slug.
    row = (await session.execute(_skills(user_id).where(in_workspace, Snippet.slug == name))).first()
    if row is None:
        slugs = (
            await session.execute(select(Snippet.id, Snippet.slug).where(in_workspace, readable_by(user_id)))
        ).all()
        matches = sorted(str(snippet_id) for snippet_id, slug in slugs if skill_name(slug) == name)
        if matches:
            row = (await session.execute(_skills(user_id).where(Snippet.id == uuid.UUID(matches[0])))).first()
    if row is None:
        raise NotFound("skill")
    found = _row(row)
    if found.workspace != workspace:  # a member's workspace is named by its slug only
        raise NotFound("skill")
    return found


async def workspace_label(session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID) -> str:
    """How the caller's skill URIs name this workspace: its slug for members, else its id."""
    slug = await session.scalar(
        select(Workspace.slug).where(Workspace.id == workspace_id, Workspace.id.in_(_my_workspaces(user_id)))
    )
    return slug if slug is not None else str(workspace_id)


async def _workspace_for_label(session: AsyncSession, user_id: uuid.UUID, label: str) -> uuid.UUID | None:
    """A member's workspace by slug; any other workspace by id (only its public snippets are readable)."""
    member = await session.scalar(
        select(Workspace.id).where(Workspace.slug == label, Workspace.id.in_(_my_workspaces(user_id)))
    )
    if member is not None:
        return member
    try:
        return uuid.UUID(label)
    except ValueError:
        return None


async def files_of(session: AsyncSession, snippet_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[FileInfo]]:
    """The supporting files of readable snippets, by snippet, in path order; no contents."""
    found: dict[uuid.UUID, list[FileInfo]] = {snippet_id: [] for snippet_id in snippet_ids}
    if not snippet_ids:
        return found
    rows = await session.execute(
        select(SnippetFile.snippet_id, SnippetFile.path, SnippetFile.media_type, SnippetFile.sha256, SnippetFile.size)
        .where(SnippetFile.snippet_id.in_(snippet_ids))
        .order_by(SnippetFile.snippet_id, SnippetFile.path)
    )
    for snippet_id, path, media_type, sha256, size in rows:
        found[snippet_id].append(FileInfo(path, media_type, sha256, size))
    return found


async def read_file(session: AsyncSession, snippet_id: uuid.UUID, path: str) -> tuple[FileInfo, bytes] | None:
    """One file of a snippet the caller has already been shown to read."""
    row = (
        await session.execute(
            select(
                SnippetFile.path, SnippetFile.media_type, SnippetFile.sha256, SnippetFile.size, SnippetFile.content
            ).where(SnippetFile.snippet_id == snippet_id, SnippetFile.path == path)
        )
    ).first()
    if row is None:
        return None
    path, media_type, sha256, size, content = row
    return FileInfo(path, media_type, sha256, size), bytes(content)


async def add_file(
    session: AsyncSession, caller: Caller, snippet_id: uuid.UUID, path: str, content: bytes, media_type: str
) -> tuple[FileInfo, bool]:
    """Add a supporting file, or replace the one at ``path``; whether it replaced one.

    Within the skill limits (``mcpserver.skills.limits``), and only for who may change the snippet.
    """
    view = await _writable(session, caller, snippet_id, "add files to")
    if len(content) > limits.MAX_FILE_BYTES:
        raise InvalidArgument("content", f"a file has at most {limits.MAX_FILE_BYTES} bytes ({len(content)} given)")
    existing = {info.path: info for info in (await files_of(session, [snippet_id]))[snippet_id]}
    if problem := paths.collision(path, list(existing)):
        raise Conflict(f"{problem}: choose another path")
    replaced = existing.pop(path, None)
    if len(existing) + 1 > limits.MAX_SUPPORTING_FILES:
        raise Conflict(
            f"a skill has at most {limits.MAX_FILES} files, SKILL.md included: remove one before adding another"
        )
    total = sum(info.size for info in existing.values()) + len(content)
    if total > limits.MAX_SUPPORTING_BYTES:
        raise Conflict(
            f"a skill's supporting files hold at most {limits.MAX_SUPPORTING_BYTES} bytes together "
            f"(16 MiB less room for SKILL.md); this file would make {total}"
        )
    info = FileInfo(path, media_type, hashlib.sha256(content).hexdigest(), len(content))
    values = {"content": content, "media_type": media_type, "sha256": info.sha256, "size": info.size}
    now = utcnow()
    if replaced is None:
        await session.execute(
            insert(SnippetFile).values(snippet_id=snippet_id, path=path, created_at=now, updated_at=now, **values)
        )
    else:
        await session.execute(update(SnippetFile).where(_file(snippet_id, path)).values(updated_at=now, **values))
    await audit.record(
        session,
        caller,
        "snippet.file.replace" if replaced else "snippet.file.add",
        workspace_id=view.workspace_id,
        target=str(snippet_id),
        path=path,
        size=info.size,
    )
    return info, replaced is not None


async def remove_file(session: AsyncSession, caller: Caller, snippet_id: uuid.UUID, path: str) -> FileInfo:
    view = await _writable(session, caller, snippet_id, "remove files from")
    found = await read_file(session, snippet_id, path)
    if found is None:
        raise NotFound("file")
    await session.execute(delete(SnippetFile).where(_file(snippet_id, path)))
    await audit.record(
        session, caller, "snippet.file.remove", workspace_id=view.workspace_id, target=str(snippet_id), path=path
    )
    return found[0]


def _file(snippet_id: uuid.UUID, path: str) -> ColumnElement[bool]:
    return and_(SnippetFile.snippet_id == snippet_id, SnippetFile.path == path)


async def _writable(session: AsyncSession, caller: Caller, snippet_id: uuid.UUID, doing: str) -> SnippetView:
    view = await get_snippet(session, caller.user_id, snippet_id)
    if not view.can_edit:
        raise PermissionDenied(f"only its creator or an owner of its workspace may {doing} this snippet")
    return view
