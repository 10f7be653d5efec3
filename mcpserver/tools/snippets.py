"""Tools for snippets: list, get, save (create or update), share, delete."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument, PermissionDenied
from mcpserver.repository import snippets as repo
from mcpserver.tools import fields
from mcpserver.tools.fields import SnippetId, Visibility
from mcpserver.tools.results import answer

SCOPES: dict[str, tuple[str, ...]] = {
    "list_snippets": ("snippets:read",),
    "get_snippet": ("snippets:read",),
    "save_snippet": ("snippets:write",),
    "share_snippet": ("snippets:write",),
    "delete_snippet": ("snippets:write",),
}

DEFAULT_PAGE = 20
MAX_PAGE = 100
MAX_BODY = 100_000
CURSOR_KIND = "snippets"


class SnippetSummaryOut(BaseModel):
    id: str = Field(description="Snippet id (UUID)")
    workspace_id: str
    slug: str = Field(description="Short name, unique in its workspace")
    title: str
    description: str
    tags: list[str]
    visibility: str = Field(description="private, workspace or public")
    version: int
    updated_at: str = Field(description="Last change (ISO 8601)")
    mine: bool = Field(description="You created it")


class SnippetPage(BaseModel):
    snippets: list[SnippetSummaryOut] = Field(description="Newest change first; bodies via get_snippet")
    next_cursor: str | None = Field(description="Pass as cursor (with the same filters) for the next page")


class SnippetOut(SnippetSummaryOut):
    body: str = Field(description="The snippet itself (Markdown)")
    created_at: str
    created_by: str | None = Field(description="User id of its creator")
    variables: list[dict[str, Any]]
    can_edit: bool = Field(description="You may change, share and delete it")


class Deleted(BaseModel):
    id: str
    deleted: bool = True


def summary_out(view: repo.SnippetSummary, me: uuid.UUID) -> SnippetSummaryOut:
    return SnippetSummaryOut(
        id=str(view.id),
        workspace_id=str(view.workspace_id),
        slug=view.slug,
        title=view.title,
        description=view.description,
        tags=view.tags,
        visibility=view.visibility,
        version=view.version,
        updated_at=view.updated_at.isoformat(),
        mine=view.created_by == me,
    )


def snippet_out(view: repo.SnippetView, me: uuid.UUID) -> SnippetOut:
    return SnippetOut(
        **summary_out(view, me).model_dump(),
        body=view.body,
        created_at=view.created_at.isoformat(),
        created_by=str(view.created_by) if view.created_by else None,
        variables=view.variables,
        can_edit=view.can_edit,
    )


def encode_position(position: repo.Position, filters: repo.Filters) -> str:
    return cursors.encode(CURSOR_KIND, [position.updated_at.isoformat(), str(position.id)], _query(filters))


def decode_position(cursor: str, filters: repo.Filters) -> repo.Position:
    try:
        _, (updated_at, last_id) = cursors.decode(cursor, (CURSOR_KIND,), _query(filters))
        return repo.Position(datetime.fromisoformat(updated_at), uuid.UUID(last_id))
    except (cursors.InvalidCursor, ValueError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, cursors.InvalidCursor) else "not a cursor from this server"
        raise InvalidArgument("cursor", reason) from None


def _query(filters: repo.Filters) -> list[Any]:
    return [str(filters.workspace_id), sorted(filters.tags), filters.visibility, filters.mine]


def _line(view: repo.SnippetSummary) -> str:
    tags = f" [{', '.join(view.tags)}]" if view.tags else ""
    return f"- {view.title}{tags} ({view.visibility}, v{view.version}, id {view.id})"


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="List snippets",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_snippets(
        workspace_id: Annotated[uuid.UUID | None, Field(description="Only this workspace")] = None,
        tags: Annotated[list[str] | None, Field(description="Only snippets carrying all of these tags")] = None,
        visibility: Annotated[Visibility | None, Field(description="Only this visibility")] = None,
        mine: Annotated[bool, Field(description="Only snippets you created")] = False,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(description="Page size", ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    ) -> Annotated[CallToolResult, SnippetPage]:
        """List the snippets you can read: summaries without bodies, most recently changed first.

        That is your workspaces' shared snippets, your own private ones, and public ones of any
        workspace. Page with next_cursor; read a snippet's body with get_snippet.
        """
        filters = repo.Filters(workspace_id, tuple(fields.tags(tags or [])), visibility, mine)
        after = decode_position(cursor, filters) if cursor else None
        caller = current_caller()
        async with app.transaction(caller) as session:
            page, position = await repo.list_visible(session, caller.user_id, filters, after=after, limit=limit)
        result = SnippetPage(
            snippets=[summary_out(v, caller.user_id) for v in page],
            next_cursor=encode_position(position, filters) if position else None,
        )
        if not page:
            return answer(result, "No snippets match." if not cursor else "No more snippets.")
        text = f"{len(page)} snippet(s), most recently changed first:\n" + "\n".join(_line(v) for v in page)
        if result.next_cursor:
            text += f"\nMore: call list_snippets again with cursor={result.next_cursor!r} and the same filters."
        return answer(result, text)

    @server.tool(
        title="Get a snippet",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def get_snippet(
        id: Annotated[uuid.UUID | None, Field(description="Snippet id")] = None,
        workspace_id: Annotated[uuid.UUID | None, Field(description="Or: its workspace id, with slug")] = None,
        slug: Annotated[str | None, Field(description="Its slug, with workspace_id")] = None,
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Get one snippet with its body: by id, or by workspace_id and slug."""
        if id is None and (workspace_id is None or slug is None):
            raise InvalidArgument("id", "give id, or workspace_id and slug")
        caller = current_caller()
        async with app.transaction(caller) as session:
            if id is not None:
                view = await repo.get(session, caller.user_id, id)
            else:
                assert workspace_id is not None and slug is not None
                view = await repo.get_by_slug(session, caller.user_id, workspace_id, slug.strip())
        heading = f"# {view.title}\n(id {view.id}, {view.visibility}, version {view.version})\n\n"
        return answer(snippet_out(view, caller.user_id), heading + view.body)

    @server.tool(
        title="Save a snippet",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    )
    async def save_snippet(
        id: Annotated[uuid.UUID | None, Field(description="To update: the snippet's id. Omit to create one")] = None,
        workspace_id: Annotated[uuid.UUID | None, Field(description="To create: the workspace to save it in")] = None,
        title: Annotated[str | None, Field(description="Short descriptive title", max_length=200)] = None,
        body: Annotated[str | None, Field(description="The snippet (Markdown)", max_length=MAX_BODY)] = None,
        description: Annotated[
            str | None, Field(description="One or two sentences on when to use it", max_length=2000)
        ] = None,
        tags: Annotated[list[str] | None, Field(description="A few lower-case tags")] = None,
        visibility: Annotated[
            Visibility | None,
            Field(description="private (only you), workspace (its members; the default) or public (every user)"),
        ] = None,
        slug: Annotated[
            str | None, Field(description="Short name, unique in the workspace; derived from the title if omitted")
        ] = None,
        expected_version: Annotated[
            int | None,
            Field(
                description="When updating: the version you read; a newer one is a conflict, not a lost update", ge=1
            ),
        ] = None,
        message: Annotated[str, Field(description="What changed (kept with the version)", max_length=500)] = "",
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Create a snippet (workspace_id, title, body, and optionally description, tags, visibility, slug)
        or update one (id and only the fields that change; pass expected_version to avoid overwriting
        someone else's change). Every save keeps the previous version.
        """  # fmt: skip
        caller = current_caller()
        if id is None:
            if workspace_id is None:
                raise InvalidArgument("workspace_id", "required to create a snippet (or give id to update one)")
            if title is None or body is None:
                raise InvalidArgument("title" if title is None else "body", "required to create a snippet")
            if expected_version is not None:
                raise InvalidArgument("expected_version", "only for updates (with id)")
            async with app.transaction(caller) as session:
                view = await repo.create(
                    session,
                    caller,
                    workspace_id,
                    title=fields.text("title", title),
                    body=fields.text("body", body),
                    description=(description or "").strip(),
                    tags=fields.tags(tags or []),
                    visibility=visibility or "workspace",
                    slug=fields.slug(slug) if slug is not None else None,
                    message=message.strip() or "created",
                )
            return answer(snippet_out(view, caller.user_id), f"Saved {view.title!r} (id {view.id}, version 1).")
        if workspace_id is not None:
            raise InvalidArgument("workspace_id", "a snippet cannot move to another workspace; omit it when updating")
        changes = repo.Changes(
            title=fields.text("title", title) if title is not None else None,
            body=fields.text("body", body) if body is not None else None,
            description=description.strip() if description is not None else None,
            tags=fields.tags(tags) if tags is not None else None,
            visibility=visibility,
            slug=fields.slug(slug) if slug is not None else None,
        )
        async with app.transaction(caller) as session:
            view = await repo.change(
                session, caller, id, changes, expected_version=expected_version, message=message.strip()
            )
        return answer(
            snippet_out(view, caller.user_id), f"Saved {view.title!r} (id {view.id}, version {view.version})."
        )

    @server.tool(
        title="Share a snippet",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def share_snippet(
        id: SnippetId,
        visibility: Annotated[
            Visibility, Field(description="private (only its creator), workspace (its members) or public (every user)")
        ],
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Change who can read a snippet (its creator, or an owner of its workspace)."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            current = await repo.get(session, caller.user_id, id)
            if not current.can_edit:
                raise PermissionDenied("only its creator or an owner of its workspace may share this snippet")
            if current.visibility == visibility:
                view = current
            else:
                view = await repo.change(
                    session,
                    caller,
                    id,
                    repo.Changes(visibility=visibility),
                    expected_version=None,
                    message=f"visibility {current.visibility} → {visibility}",
                    action="snippet.share",
                )
        return answer(snippet_out(view, caller.user_id), f"{view.title!r} is now {view.visibility}.")

    @server.tool(
        title="Delete a snippet",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def delete_snippet(id: SnippetId) -> Annotated[CallToolResult, Deleted]:
        """Delete a snippet and its versions (its creator, or an owner of its workspace)."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            view = await repo.remove(session, caller, id)
        return answer(Deleted(id=str(view.id)), f"Deleted {view.title!r}.")
