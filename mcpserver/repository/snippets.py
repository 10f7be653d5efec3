"""Snippets: who reads and writes them, their versions, and paging through them.

The rules (``architecture.md``), the same ones the Postgres policies enforce:

- read: ``public`` by every signed-in user; ``workspace`` by the workspace's members;
  ``private`` by its creator while a member;
- create: members of the workspace, as themselves;
- change, share, delete: a member who created it, or an owner of its workspace unless it
  is private (and so only the creator may make a snippet private);
- anything the caller cannot read answers exactly like something that does not exist.

Every change bumps ``version`` with a compare-and-set on the version the change was
based on (no lost updates) and appends the complete new state to ``snippet_versions``,
in the same transaction as an audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from mcpserver.repository import audit
from mcpserver.repository.asyncpg_reads import AsyncpgReads
from mcpserver.repository.workspaces import role_of, slugify
from shared.models import Snippet, SnippetVersion, WorkspaceMember, utcnow
from shared.variables import Variable, VariableError, declare, placeholders

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])

SUMMARY = (
    Snippet.id,
    Snippet.workspace_id,
    Snippet.created_by,
    Snippet.slug,
    Snippet.title,
    Snippet.description,
    Snippet.tags,
    Snippet.visibility,
    Snippet.version,
    Snippet.created_at,
    Snippet.updated_at,
)


@dataclass(frozen=True)
class SnippetSummary:
    id: uuid.UUID
    workspace_id: uuid.UUID
    created_by: uuid.UUID | None
    slug: str
    title: str
    description: str
    tags: list[str]
    visibility: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SnippetView(SnippetSummary):
    body: str = ""
    variables: list[dict[str, Any]] = field(default_factory=list)
    can_edit: bool = False


@dataclass(frozen=True)
class Position:
    """Where a page of the newest-first listing ends: (updated_at, id), both descending."""

    updated_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class Filters:
    workspace_id: uuid.UUID | None = None
    tags: tuple[str, ...] = ()
    visibility: str | None = None
    mine: bool = False


@dataclass(frozen=True)
class Changes:
    """The fields a save changes; None leaves a field as it is."""

    title: str | None = None
    body: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    visibility: str | None = None
    slug: str | None = None
    variables: list[Variable] | None = None
    """Declared variables; None infers them from the body, keeping earlier declarations still in use."""


def readable_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    """The read rule as a filter; the RLS policy applies the same rule again on Postgres."""
    return _read_rule(user_id)


def _read_rule(reader: uuid.UUID | ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
    """The rule for ``reader``: a user id, or :data:`READER` in the statements this module builds once."""
    my_workspaces = select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == reader)
    return or_(
        Snippet.visibility == "public",
        and_(Snippet.visibility == "workspace", Snippet.workspace_id.in_(my_workspaces)),
        and_(Snippet.visibility == "private", Snippet.created_by == reader, Snippet.workspace_id.in_(my_workspaces)),
    )


# The hot reads (a page of the listing, one snippet) are built once per shape with their values as
# parameters, not per call: building the rule and the select, and SQLAlchemy deriving the cache key
# of a new statement, cost more CPU than running the query. A statement that is reused keeps its
# cache key; the values come with each execution and a missing one is an error, never a stale value.
READER = bindparam("reader", type_=Snippet.created_by.type)
"""The user a statement built once reads for (``{"reader": user_id}`` at execution)."""
_READABLE = _read_rule(READER)


Reads = AsyncSession | AsyncpgReads
"""Where the hot reads run: a call's session, or the asyncpg connection (``AppContext.reads``)."""


def may_write(user_id: uuid.UUID, role: str | None, created_by: uuid.UUID | None, visibility: str) -> bool:
    """The write rule for a snippet in this state, given the user's role in its workspace."""
    return role is not None and (created_by == user_id or (visibility != "private" and role == "owner"))


async def list_visible(
    reads: Reads, user_id: uuid.UUID, filters: Filters, *, after: Position | None, limit: int
) -> tuple[list[SnippetSummary], Position | None]:
    """One page of the snippets the user can read, newest change first; the position of the next page."""
    dialect = _dialect(reads)
    query = _listing(
        dialect,
        by_workspace=filters.workspace_id is not None,
        by_visibility=filters.visibility is not None,
        mine=filters.mine,
        tags=len(filters.tags),
        paged=after is not None,
    )
    params: dict[str, Any] = {"reader": user_id, "limit": limit + 1, **_tag_values(dialect, filters.tags)}
    if filters.workspace_id is not None:
        params["workspace_id"] = filters.workspace_id
    if filters.visibility is not None:
        params["visibility"] = filters.visibility
    if after is not None:
        params.update(after_updated_at=after.updated_at, after_id=after.id)
    rows = await _rows(reads, query, params)
    page = [SnippetSummary(*row) for row in rows[:limit]]
    more = len(rows) > limit
    return page, (Position(page[-1].updated_at, page[-1].id) if more and page else None)


def _dialect(reads: Reads) -> str:
    return reads.dialect.name if isinstance(reads, AsyncpgReads) else reads.get_bind().dialect.name


async def _rows(
    reads: Reads, statement: Select[*tuple[Any, ...]], params: dict[str, Any]
) -> Sequence[Row[*tuple[Any, ...]]] | list[tuple[Any, ...]]:
    """The rows of one of this module's reads: on the asyncpg connection, or at the Core level of
    the session's connection (same transaction): the statements select columns, not entities, so
    the ORM's execution layer would add only its cost (a fifth of a listing's CPU)."""
    if isinstance(reads, AsyncpgReads):
        return await reads.rows(statement, params)
    connection = await reads.connection()
    return (await connection.execute(statement, params)).all()


@lru_cache(maxsize=256)
def _listing(
    dialect: str, *, by_workspace: bool, by_visibility: bool, mine: bool, tags: int, paged: bool
) -> Select[*tuple[Any, ...]]:
    """The listing's statement for one shape of filters; its values are the parameters ``reader``,
    ``limit``, ``workspace_id``, ``visibility``, the tags' (:func:`_carrying`) and ``after_updated_at``
    and ``after_id``."""
    query = select(*SUMMARY).where(_READABLE)
    if by_workspace:
        query = query.where(Snippet.workspace_id == bindparam("workspace_id", type_=Snippet.workspace_id.type))
    if by_visibility:
        query = query.where(Snippet.visibility == bindparam("visibility", type_=Snippet.visibility.type))
    if mine:
        query = query.where(Snippet.created_by == READER)
    if tags:
        query = query.where(*_carrying(dialect, tags))
    if paged:
        query = query.where(_before(dialect))
    order = (Snippet.updated_at.desc(), Snippet.id.desc())
    return query.order_by(*order).limit(bindparam("limit", type_=Integer))


def _before(dialect: str) -> ColumnElement[bool]:
    """Rows after the position (``after_updated_at``, ``after_id``) in the newest-first order. On
    Postgres a row comparison, which the ``(…, updated_at, id)`` indexes serve as a range (the OR
    form made a page 1,000 deep read every row before it); SQLite keeps the OR form."""
    at = bindparam("after_updated_at", type_=Snippet.updated_at.type)
    after_id = bindparam("after_id", type_=Snippet.id.type)
    if dialect == "postgresql":
        return tuple_(Snippet.updated_at, Snippet.id) < tuple_(at, after_id)
    return or_(Snippet.updated_at < at, and_(Snippet.updated_at == at, Snippet.id < after_id))


def with_tags(session: AsyncSession, query: _Query, tags: tuple[str, ...]) -> _Query:
    """Only snippets carrying every one of ``tags``."""
    return query.where(*_carrying(session.get_bind().dialect.name, len(tags), tags))


def _carrying(dialect: str, count: int, tags: tuple[str, ...] | None = None) -> list[ColumnElement[bool]]:
    """The conditions that a snippet carries every one of ``count`` tags: on Postgres one JSONB
    containment of the parameter ``tags`` (the list), on SQLite one ``json_each`` test per tag
    (``tag_0``, …). With ``tags`` the parameters hold their values; without, the execution passes
    them (:func:`_tag_values`)."""
    if dialect == "postgresql":
        whole = _parameter("tags", None if tags is None else list(tags), JSONB)
        return [type_coerce(Snippet.tags, JSONB).contains(whole)]
    conditions: list[ColumnElement[bool]] = []
    for i in range(count):
        each = func.json_each(Snippet.tags).table_valued("value")
        tag = _parameter(f"tag_{i}", None if tags is None else tags[i])
        conditions.append(exists(select(1).select_from(each).where(each.c.value == tag)))
    return conditions


def _parameter(key: str, value: object | None, type_: Any = None) -> BindParameter[Any]:
    """``value`` bound under a unique name, or without one the parameter ``key`` the execution passes."""
    return bindparam(key, type_=type_) if value is None else bindparam(key, value, type_=type_, unique=True)


def _tag_values(dialect: str, tags: tuple[str, ...]) -> dict[str, Any]:
    """The parameters of :func:`_carrying`'s conditions without values."""
    if not tags:
        return {}
    if dialect == "postgresql":
        return {"tags": list(tags)}
    return {f"tag_{i}": tag for i, tag in enumerate(tags)}


def _view(where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    """One snippet, readable by ``reader``, with the reader's role in its workspace (one round
    trip, not two)."""
    role = (
        select(WorkspaceMember.role)
        .where(WorkspaceMember.workspace_id == Snippet.workspace_id, WorkspaceMember.user_id == READER)
        .scalar_subquery()
    )
    return select(*SUMMARY, Snippet.body, Snippet.variables, role).where(where, _READABLE)


_BY_ID = _view(Snippet.id == bindparam("snippet_id", type_=Snippet.id.type))
_BY_SLUG = _view(
    and_(
        Snippet.workspace_id == bindparam("workspace_id", type_=Snippet.workspace_id.type),
        Snippet.slug == bindparam("slug", type_=Snippet.slug.type),
    )
)


async def get(reads: Reads, user_id: uuid.UUID, snippet_id: uuid.UUID) -> SnippetView:
    return await _one(reads, user_id, _BY_ID, {"snippet_id": snippet_id})


async def get_by_slug(reads: Reads, user_id: uuid.UUID, workspace_id: uuid.UUID, slug: str) -> SnippetView:
    return await _one(reads, user_id, _BY_SLUG, {"workspace_id": workspace_id, "slug": slug})


async def _one(
    reads: Reads, user_id: uuid.UUID, query: Select[*tuple[Any, ...]], params: dict[str, Any]
) -> SnippetView:
    rows = await _rows(reads, query, {"reader": user_id, **params})
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("snippet")
    *columns, role = row
    view = SnippetView(*columns)
    return replace(view, can_edit=may_write(user_id, role, view.created_by, view.visibility))


async def create(
    session: AsyncSession,
    caller: Caller,
    workspace_id: uuid.UUID,
    *,
    title: str,
    body: str,
    description: str,
    tags: list[str],
    visibility: str,
    slug: str | None,
    message: str,
    variables: list[Variable] | None = None,
) -> SnippetView:
    """A new snippet, version 1; members only. A chosen slug must be free; a derived one gets a suffix."""
    if await role_of(session, caller.user_id, workspace_id) is None:
        raise NotFound("workspace")
    declared = _declare(body, variables, [])
    now = utcnow()
    snippet_id = uuid.uuid4()
    view = SnippetView(
        id=snippet_id,
        workspace_id=workspace_id,
        created_by=caller.user_id,
        slug=slug or slugify(title, fallback="snippet"),
        title=title,
        description=description,
        tags=tags,
        visibility=visibility,
        version=1,
        created_at=now,
        updated_at=now,
        body=body,
        variables=declared,
        can_edit=True,
    )
    new_row = _insert_unless_slug_taken(session.get_bind().dialect.name)
    for attempt in range(5):
        if attempt:
            if slug is not None:
                raise Conflict(f"the slug {slug!r} is already used in this workspace: choose another")
            view = replace(view, slug=f"{view.slug[:70]}-{uuid.uuid4().hex[:6]}")
        if (await session.execute(new_row, _columns(view))).first() is not None:
            break
    else:
        raise RuntimeError("could not find a free snippet slug")
    await _append_version(session, caller, view, message)
    await audit.record(
        session, caller, "snippet.create", workspace_id=workspace_id, target=str(snippet_id), visibility=visibility
    )
    return view


async def change(
    session: AsyncSession,
    caller: Caller,
    snippet_id: uuid.UUID,
    changes: Changes,
    *,
    expected_version: int | None,
    message: str,
    action: str = "snippet.update",
) -> SnippetView:
    """Apply ``changes`` to the current version (or to ``expected_version``, else a conflict)."""
    for _ in range(3):
        current = await get(session, caller.user_id, snippet_id)
        if not current.can_edit:
            raise PermissionDenied("only its creator or an owner of its workspace may change this snippet")
        if expected_version is not None and expected_version != current.version:
            raise Conflict(
                f"the snippet is at version {current.version}, not {expected_version}: someone changed it "
                "meanwhile; read it again, merge, and save with the new expected_version"
            )
        new = replace(
            current,
            **{
                f.name: getattr(changes, f.name)
                for f in fields(changes)
                if getattr(changes, f.name) is not None and f.name != "variables"
            },
            version=current.version + 1,
            updated_at=utcnow(),
        )
        if changes.body is not None or changes.variables is not None:
            new = replace(new, variables=_declare(new.body, changes.variables, current.variables))
        role = await role_of(session, caller.user_id, current.workspace_id)
        if not may_write(caller.user_id, role, new.created_by, new.visibility):
            raise PermissionDenied("only its creator may make a snippet private")
        try:
            async with session.begin_nested():
                result = await session.execute(
                    update(Snippet)
                    .where(Snippet.id == snippet_id, Snippet.version == current.version)
                    .values({k: v for k, v in _columns(new).items() if k not in ("id", "created_at", "created_by")})
                )
        except IntegrityError:
            raise Conflict(f"the slug {new.slug!r} is already used in this workspace: choose another") from None
        if result.rowcount == 1:  # type: ignore[attr-defined]
            await _append_version(session, caller, new, message)
            changed = sorted(f.name for f in fields(changes) if getattr(changes, f.name) is not None)
            shared = {"visibility": new.visibility} if new.visibility != current.visibility else {}
            await audit.record(
                session,
                caller,
                action,
                workspace_id=new.workspace_id,
                target=str(snippet_id),
                version=new.version,
                changed=changed,
                **shared,  # a share (or unshare) says who may now see it
            )
            return new
        # Changed by someone else since we read it: read again (and report it, if a version was expected).
    raise Conflict("the snippet keeps changing under this save: try again")


async def remove(session: AsyncSession, caller: Caller, snippet_id: uuid.UUID) -> SnippetView:
    current = await get(session, caller.user_id, snippet_id)
    if not current.can_edit:
        raise PermissionDenied("only its creator or an owner of its workspace may delete this snippet")
    await session.execute(delete(Snippet).where(Snippet.id == snippet_id))
    await audit.record(
        session, caller, "snippet.delete", workspace_id=current.workspace_id, target=str(snippet_id), slug=current.slug
    )
    return current


def _declare(body: str, declared: list[Variable] | None, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The variables stored with ``body`` (``shared.variables.declare``), as JSON."""
    try:
        result = declare(body, declared, [Variable.from_dict(v) for v in previous])
    except VariableError as exc:
        field_name = "variables" if declared is not None and not _bad_placeholders(body) else "body"
        raise InvalidArgument(field_name, str(exc)) from None
    return [v.as_dict() for v in result]


def _bad_placeholders(body: str) -> bool:
    return bool(placeholders(body)[1])


_CONTENT = ("workspace_id", "title", "description", "body", "tags", "visibility", "variables", "version")
"""What a snippet row and each of its version rows both hold."""


def _content(view: SnippetView) -> dict[str, Any]:
    return {name: getattr(view, name) for name in _CONTENT}


def _columns(view: SnippetView) -> dict[str, Any]:
    return {
        **_content(view),
        "id": view.id,
        "created_by": view.created_by,
        "slug": view.slug,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
    }


@lru_cache(maxsize=4)
def _insert_unless_slug_taken(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (workspace_id, slug) DO NOTHING RETURNING id``, built once per dialect: a
    taken slug returns no row instead of failing, so no savepoint is needed around it. (RETURNING, not
    the row count: through SQLAlchemy psycopg reports -1 for an INSERT.)"""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, Snippet.__table__)
    return dialect_insert(table).on_conflict_do_nothing(index_elements=["workspace_id", "slug"]).returning(table.c.id)


_INSERT_VERSION = insert(cast(Table, SnippetVersion.__table__))


async def _append_version(session: AsyncSession, caller: Caller, view: SnippetView, message: str) -> None:
    row = {**_content(view), "snippet_id": view.id, "author_id": caller.user_id, "message": message}
    row["created_at"] = view.updated_at  # a version is made when the snippet changes
    await session.execute(_INSERT_VERSION, row)
