"""Tools for snippets: list, get (any version), save (create or update), share, delete.

Every write tells the users whose prompt and resource lists it changed
(``mcpserver.changes``), after its transaction has committed.

The limits come from the settings and are published in the tools' input schemas, so the
annotations are evaluated when ``register`` runs (no ``from __future__ import annotations``).
"""

import uuid
from datetime import datetime
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver import changes, cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument, PermissionDenied
from mcpserver.repository import idempotency, versions
from mcpserver.repository import snippets as repo
from mcpserver.tools import fields
from mcpserver.tools.fields import MAX_VERSION, SnippetId, Visibility
from mcpserver.tools.results import answer
from shared.settings import Settings
from shared.variables import MAX_NAME, Variable

SCOPES: dict[str, tuple[str, ...]] = {
    "list_snippets": ("snippets:read",),
    "get_snippet": ("snippets:read",),
    "save_snippet": ("snippets:write",),
    "share_snippet": ("snippets:write",),
    "delete_snippet": ("snippets:write",),
}

DEFAULT_PAGE = 20
MAX_BODY = 100_000
"""The largest body any configuration allows (``snippet_max_body`` may only be lower)."""
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


class VariableIn(BaseModel):
    name: str = Field(description="As in {{name}}: a letter, then letters, digits or underscores", max_length=MAX_NAME)
    description: str = Field(default="", description="What to fill in")
    required: bool = Field(default=True, description="Must be given when rendering (unless it has a default)")
    default: str | None = Field(default=None, description="Used when no value is given")


class VariableOut(BaseModel):
    name: str
    description: str
    required: bool
    default: str | None


class SnippetOut(SnippetSummaryOut):
    body: str = Field(description="The snippet itself (Markdown); {{name}} marks a variable")
    created_at: str
    created_by: str | None = Field(description="User id of its creator")
    variables: list[VariableOut] = Field(description="Its {{variables}}: fill them with render_snippet")
    can_edit: bool = Field(description="You may change, share and delete it")
    latest_version: int = Field(description="Its newest version (differs from version when you asked for an older one)")


class Deleted(BaseModel):
    id: str
    deleted: bool = True


def summary_fields(view: repo.SnippetSummary, me: uuid.UUID) -> dict[str, Any]:
    """A snippet's summary as JSON-ready fields: what :class:`SnippetSummaryOut` holds. Pages of
    them go into results as they are (no model per row: the SDK validates each result against
    the tool's output schema anyway)."""
    return {
        "id": str(view.id),
        "workspace_id": str(view.workspace_id),
        "slug": view.slug,
        "title": view.title,
        "description": view.description,
        "tags": view.tags,
        "visibility": view.visibility,
        "version": view.version,
        "updated_at": view.updated_at.isoformat(),
        "mine": view.created_by == me,
    }


def summary_out(view: repo.SnippetSummary, me: uuid.UUID) -> SnippetSummaryOut:
    return SnippetSummaryOut(**summary_fields(view, me))


def snippet_out(view: repo.SnippetView, me: uuid.UUID, latest_version: int | None = None) -> SnippetOut:
    return SnippetOut(
        **summary_out(view, me).model_dump(),
        body=view.body,
        created_at=view.created_at.isoformat(),
        created_by=str(view.created_by) if view.created_by else None,
        variables=[VariableOut(**Variable.from_dict(v).as_dict()) for v in view.variables],
        can_edit=view.can_edit,
        latest_version=latest_version or view.version,
    )


def declared(variables: list[VariableIn] | None, settings: Settings) -> list[Variable] | None:
    if variables is None:
        return None
    for v in variables:
        if len(v.description) > settings.variable_max_description:
            raise InvalidArgument(
                "variables",
                f"the description of {v.name!r} has more than {settings.variable_max_description} characters",
            )
        if v.default is not None and len(v.default) > settings.variable_max_default:
            raise InvalidArgument(
                "variables", f"the default of {v.name!r} has more than {settings.variable_max_default} characters"
            )
    return [Variable(v.name.strip(), v.description.strip(), v.required, v.default) for v in variables]


async def at_version(session: AsyncSession, me: uuid.UUID, snippet_id: uuid.UUID, version: int) -> SnippetOut:
    """The snippet as it was at ``version``, in the shape of get_snippet."""
    current = await repo.get(session, me, snippet_id)
    if version == current.version:
        return snippet_out(current, me)
    past = await versions.get_version(session, current, version)
    return snippet_out(versions.as_of(current, past), me, latest_version=current.version)


async def announce(app: AppContext, audience: changes.Audience, snippet_id: uuid.UUID, *, updated: bool) -> None:
    """Tell the listening users in ``audience`` that their lists (and this snippet) changed."""
    await app.changes.notify(audience, changes.snippet_events(snippet_id, updated=updated))


async def audience_of(
    app: AppContext, session: AsyncSession, view: repo.SnippetSummary, *visibilities: str
) -> changes.Audience:
    return await changes.snippet_audience(
        session, app.changes, view.workspace_id, view.created_by, {view.visibility, *visibilities}
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
    settings = app.settings
    max_page, max_body = settings.max_page_size, settings.snippet_max_body
    max_title, max_description = settings.snippet_max_title, settings.snippet_max_description

    @server.tool(
        title="List snippets",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_snippets(
        workspace_id: Annotated[uuid.UUID | None, Field(description="Only this workspace")] = None,
        tags: Annotated[
            list[str] | None,
            Field(description=fields.tags_description(settings, "Only snippets carrying all of these")),
        ] = None,
        visibility: Annotated[Visibility | None, Field(description="Only this visibility")] = None,
        mine: Annotated[bool, Field(description="Only snippets you created")] = False,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(description=f"Page size (at most {max_page})", ge=1, le=max_page)] = DEFAULT_PAGE,
    ) -> Annotated[CallToolResult, SnippetPage]:
        """List the snippets you can read: summaries without bodies, most recently changed first.

        That is your workspaces' shared snippets, your own private ones, and public ones of any
        workspace. Page with next_cursor; read a snippet's body with get_snippet.
        """
        filters = repo.Filters(workspace_id, tuple(fields.tags(tags or [], settings)), visibility, mine)
        after = decode_position(cursor, filters) if cursor else None
        caller = current_caller()
        async with app.reads(caller) as reads:
            page, position = await repo.list_visible(reads, caller.user_id, filters, after=after, limit=limit)
        next_cursor = encode_position(position, filters) if position else None
        result = {"snippets": [summary_fields(v, caller.user_id) for v in page], "next_cursor": next_cursor}
        if not page:
            return answer(result, "No snippets match." if not cursor else "No more snippets.")
        text = f"{len(page)} snippet(s), most recently changed first:\n" + "\n".join(_line(v) for v in page)
        if next_cursor:
            text += f"\nMore: call list_snippets again with cursor={next_cursor!r} and the same filters."
        return answer(result, text)

    @server.tool(
        title="Get a snippet",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def get_snippet(
        id: Annotated[uuid.UUID | None, Field(description="Snippet id")] = None,
        workspace_id: Annotated[uuid.UUID | None, Field(description="Or: its workspace id, with slug")] = None,
        slug: Annotated[str | None, Field(description="Its slug, with workspace_id")] = None,
        version: Annotated[
            int | None,
            Field(
                description="An earlier version (see list_snippet_versions); default the newest", ge=1, le=MAX_VERSION
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Get one snippet with its body: by id, or by workspace_id and slug; optionally as it was at a version."""
        if id is None and (workspace_id is None or slug is None):
            raise InvalidArgument("id", "give id, or workspace_id and slug")
        caller = current_caller()

        async def find(reads: repo.Reads) -> repo.SnippetView:
            if id is not None:
                return await repo.get(reads, caller.user_id, id)
            assert workspace_id is not None and slug is not None
            return await repo.get_by_slug(reads, caller.user_id, workspace_id, slug.strip())

        if version is None:
            async with app.reads(caller) as reads:
                out = snippet_out(await find(reads), caller.user_id)
        else:  # the newest and an earlier version in one transaction
            async with app.transaction(caller) as session:
                view = await find(session)
                if version != view.version:
                    past = await versions.get_version(session, view, version)
                    out = snippet_out(versions.as_of(view, past), caller.user_id, latest_version=view.version)
                else:
                    out = snippet_out(view, caller.user_id)
        old = f", an old version: the newest is {out.latest_version}" if out.version != out.latest_version else ""
        heading = f"# {out.title}\n(id {out.id}, {out.visibility}, version {out.version}{old})\n\n"
        return answer(out, heading + out.body)

    @server.tool(
        title="Save a snippet",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    )
    async def save_snippet(
        id: Annotated[uuid.UUID | None, Field(description="To update: the snippet's id. Omit to create one")] = None,
        workspace_id: Annotated[uuid.UUID | None, Field(description="To create: the workspace to save it in")] = None,
        title: Annotated[
            str | None,
            Field(description=f"Short descriptive title (at most {max_title} characters)", max_length=max_title),
        ] = None,
        body: Annotated[
            str | None, Field(description=f"The snippet (Markdown, at most {max_body} characters)", max_length=max_body)
        ] = None,
        description: Annotated[
            str | None,
            Field(
                description=f"One or two sentences on when to use it (at most {max_description} characters)",
                max_length=max_description,
            ),
        ] = None,
        tags: Annotated[
            list[str] | None, Field(description=fields.tags_description(settings, "A few lower-case tags"))
        ] = None,
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
                description="When updating: the version you read; a newer one is a conflict, not a lost update",
                ge=1,
                le=MAX_VERSION,
            ),
        ] = None,
        message: Annotated[str, Field(description="What changed (kept with the version)", max_length=500)] = "",
        variables: Annotated[
            list[VariableIn] | None,
            Field(
                description=f"Declare the body's {{{{variables}}}} (every one, each used; at most "
                f"{settings.snippet_max_variables}, descriptions of at most {settings.variable_max_description} and "
                f"defaults of at most {settings.variable_max_default} characters); omit to infer them from the "
                "body (required, keeping earlier descriptions)",
                max_length=settings.snippet_max_variables,
            ),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(
                description="A fresh random string per intended save: retrying with the same key and arguments "
                "(after a lost answer) returns the first result instead of saving twice",
                max_length=200,
            ),
        ] = None,
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Create a snippet (workspace_id, title, body, and optionally description, tags, visibility, slug)
        or update one (id and only the fields that change; pass expected_version to avoid overwriting
        someone else's change). Every save keeps the previous version. Write {{name}} in the body for a
        variable (\\{{ for literal braces); render_snippet fills them in.
        """  # fmt: skip
        caller = current_caller()
        key = fields.idempotency_key(idempotency_key) if idempotency_key is not None else None
        arguments = {
            "id": id,
            "workspace_id": workspace_id,
            "title": title,
            "body": body,
            "description": description,
            "tags": tags,
            "visibility": visibility,
            "slug": slug,
            "expected_version": expected_version,
            "message": message,
            "variables": [v.model_dump() for v in variables] if variables is not None else None,
        }
        if id is None:
            if workspace_id is None:
                raise InvalidArgument("workspace_id", "required to create a snippet (or give id to update one)")
            if title is None or body is None:
                raise InvalidArgument("title" if title is None else "body", "required to create a snippet")
            if expected_version is not None:
                raise InvalidArgument("expected_version", "only for updates (with id)")
            clean_title, clean_body = fields.text("title", title), fields.body(body, settings)
            new_tags, new_slug = fields.tags(tags or [], settings), fields.slug(slug) if slug is not None else None
        elif workspace_id is not None:
            raise InvalidArgument("workspace_id", "a snippet cannot move to another workspace; omit it when updating")
        else:
            update = repo.Changes(
                title=fields.text("title", title) if title is not None else None,
                body=fields.body(body, settings) if body is not None else None,
                description=description.strip() if description is not None else None,
                tags=fields.tags(tags, settings) if tags is not None else None,
                visibility=visibility,
                slug=fields.slug(slug) if slug is not None else None,
                variables=declared(variables, settings),
            )
        audience: changes.Audience = ()
        async with app.transaction(caller) as session:
            done = None
            if key is not None:
                ttl = app.settings.idempotency_key_seconds
                done = await idempotency.claim(session, caller, key, idempotency.fingerprint(arguments), ttl)
            if done is not None:
                out = await at_version(session, caller.user_id, done.snippet_id, done.version)
            else:
                if id is None:
                    assert workspace_id is not None
                    view = await repo.create(
                        session,
                        caller,
                        workspace_id,
                        title=clean_title,
                        body=clean_body,
                        description=(description or "").strip(),
                        tags=new_tags,
                        visibility=visibility or "workspace",
                        slug=new_slug,
                        message=message.strip() or "created",
                        variables=declared(variables, settings),
                    )
                else:
                    view = await repo.change(
                        session, caller, id, update, expected_version=expected_version, message=message.strip()
                    )
                if key is not None:
                    await idempotency.remember(session, caller, key, idempotency.Done(view.id, view.version))
                # A visibility change may hide it from people who could read it: tell them too.
                audience = await audience_of(app, session, view, *(["public"] if visibility and id else []))
                out = snippet_out(view, caller.user_id)
        if done is not None:
            return answer(
                out, f"Already saved with this idempotency_key: {out.title!r} (id {out.id}, version {out.version})."
            )
        await announce(app, audience, uuid.UUID(out.id), updated=id is not None)
        return answer(out, f"Saved {out.title!r} (id {out.id}, version {out.version}).")

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
            audience: changes.Audience = ()
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
                audience = await audience_of(app, session, view, current.visibility)
        await announce(app, audience, view.id, updated=True)
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
            audience = await audience_of(app, session, view)
        await announce(app, audience, view.id, updated=True)
        return answer(Deleted(id=str(view.id)), f"Deleted {view.title!r}.")
