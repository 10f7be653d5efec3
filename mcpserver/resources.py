"""MCP resources: ``workspace://{id}``, ``workspace://{id}/snippets``, ``snippet://{id}`` and
``snippet://{id}/versions/{n}``.

The four are published as resource templates; ``resources/list`` also names the
concrete resources the caller can read (their workspaces, then the snippets they can
read, newest change first), paginated with opaque cursors. ``MCPServer`` only serves a
fixed, single-page list, so the three methods get low-level handlers here. Results are
per user: ``resources/list`` and ``resources/read`` are marked ``cacheScope: private``
(``mcpserver.app.CACHE_HINTS``).

Anything the caller cannot read answers like something that does not exist: JSON-RPC
``-32602`` (invalid params, SEP-2164) with the URI.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextResourceContents,
)

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import NotFound
from mcpserver.repository import members, versions
from mcpserver.repository import snippets as snippet_repo
from mcpserver.repository import workspaces as workspace_repo
from mcpserver.tools.snippets import encode_position, summary_out

PAGE_SIZE = 100
WORKSPACE = re.compile(r"^workspace://([0-9a-fA-F-]{36})$")
WORKSPACE_SNIPPETS = re.compile(r"^workspace://([0-9a-fA-F-]{36})/snippets$")
SNIPPET = re.compile(r"^snippet://([0-9a-fA-F-]{36})$")
SNIPPET_VERSION = re.compile(r"^snippet://([0-9a-fA-F-]{36})/versions/([0-9]{1,9})$")

ResourceReader = Callable[[str], Awaitable[ReadResourceResult]]
"""Reads one URI of another scheme for the current caller (``register(readers=…)``)."""

TEMPLATES = [
    ResourceTemplate(
        uri_template="workspace://{id}",
        name="workspace",
        title="Workspace",
        description="A workspace you belong to: name, your role, and its members (JSON).",
        mime_type="application/json",
    ),
    ResourceTemplate(
        uri_template="workspace://{id}/snippets",
        name="workspace-snippets",
        title="Snippets of a workspace",
        description=f"The newest {PAGE_SIZE} snippets of a workspace you can read, without bodies (JSON).",
        mime_type="application/json",
    ),
    ResourceTemplate(
        uri_template="snippet://{id}",
        name="snippet",
        title="Snippet",
        description="The body of a snippet you can read (Markdown).",
        mime_type="text/markdown",
    ),
    ResourceTemplate(
        uri_template="snippet://{id}/versions/{n}",
        name="snippet-version",
        title="Snippet version",
        description="The body of a snippet you can read as it was at version n (Markdown; versions never change).",
        mime_type="text/markdown",
    ),
]


def register(server: MCPServer, app: AppContext, *, readers: Mapping[str, ResourceReader] | None = None) -> None:
    """Replace the SDK's single-page resource handlers with per-user, paginated ones.

    ``readers`` serve other URI schemes (``{"skill": …}``, ``mcpserver.skills``); they raise
    the same errors as the reads here.
    """
    by_scheme = dict(readers or {})

    async def list_templates(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def list_resources(
        ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        cursor = params.cursor if params is not None else None
        try:
            return await _list(app, cursor)
        except cursors.InvalidCursor as exc:
            raise MCPError(INVALID_PARAMS, f"invalid cursor: {exc}") from None

    async def read_resource(ctx: ServerRequestContext[Any], params: ReadResourceRequestParams) -> ReadResourceResult:
        uri = str(params.uri)
        if "\x00" in uri:  # Postgres text cannot hold NUL: refuse it before any query
            raise MCPError(INVALID_PARAMS, "invalid uri: must not contain NUL characters", data={"uri": uri})
        try:
            reader = by_scheme.get(uri.partition("://")[0])
            return await (reader(uri) if reader is not None else _read(app, uri))
        except ToolError as exc:
            raise MCPError(INVALID_PARAMS, str(exc), data={"uri": uri}) from None

    # The low-level server behind MCPServer; add_request_handler replaces a method's handler.
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("resources/templates/list", PaginatedRequestParams, list_templates)
    lowlevel.add_request_handler("resources/list", PaginatedRequestParams, list_resources)
    lowlevel.add_request_handler("resources/read", ReadResourceRequestParams, read_resource)


async def _list(app: AppContext, cursor: str | None) -> ListResourcesResult:
    """Workspaces by name, then snippets by newest change; one cursor walks through both."""
    caller = current_caller()
    kind, position = cursors.decode(cursor, ("w", "s")) if cursor else ("w", [])
    resources: list[Resource] = []
    async with app.transaction(caller) as session:
        if kind == "w":
            after = (str(position[0]), _position_id(position)) if position else None
            per_page = max(1, PAGE_SIZE // 2)  # each workspace is two resources
            spaces = await workspace_repo.list_for(session, caller.user_id, after=after, limit=per_page + 1)
            for space in spaces[:per_page]:
                resources += _workspace_resources(space)
            if len(spaces) > per_page:
                last = spaces[per_page - 1]
                return ListResourcesResult(
                    resources=resources, next_cursor=cursors.encode("w", [last.name, str(last.id)])
                )
            after_snippet = None
        else:
            after_snippet = snippet_position(position) if position else None
        room = PAGE_SIZE - len(resources)
        if room == 0:  # the page is full of workspaces; snippets start on the next one
            return ListResourcesResult(resources=resources, next_cursor=cursors.encode("s", []))
        page, more = await snippet_repo.list_visible(
            session, caller.user_id, snippet_repo.Filters(), after=after_snippet, limit=room
        )
    resources += [_snippet_resource(view) for view in page]
    next_cursor = cursors.encode("s", [more.updated_at.isoformat(), str(more.id)]) if more else None
    return ListResourcesResult(resources=resources, next_cursor=next_cursor)


def _position_id(position: list[Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(position[1]))
    except (ValueError, IndexError) as exc:
        raise cursors.InvalidCursor("not a cursor from this server") from exc


def snippet_position(position: list[Any]) -> snippet_repo.Position:
    """A newest-first keyset position from a cursor (``InvalidCursor`` if it is not one)."""
    try:
        return snippet_repo.Position(datetime.fromisoformat(str(position[0])), uuid.UUID(str(position[1])))
    except (ValueError, IndexError) as exc:
        raise cursors.InvalidCursor("not a cursor from this server") from exc


def _workspace_resources(space: workspace_repo.WorkspaceView) -> list[Resource]:
    return [
        Resource(
            uri=f"workspace://{space.id}",
            name=space.slug,
            title=space.name,
            description=f"Workspace {space.name} (you are {space.role})",
            mime_type="application/json",
        ),
        Resource(
            uri=f"workspace://{space.id}/snippets",
            name=f"{space.slug}-snippets",
            title=f"Snippets of {space.name}",
            description=f"The newest snippets of {space.name} you can read",
            mime_type="application/json",
        ),
    ]


def _snippet_resource(view: snippet_repo.SnippetSummary) -> Resource:
    return Resource(
        uri=f"snippet://{view.id}",
        name=view.slug,
        title=view.title,
        description=view.description or None,
        mime_type="text/markdown",
    )


async def _read(app: AppContext, uri: str) -> ReadResourceResult:
    caller = current_caller()
    async with app.transaction(caller) as session:
        if match := SNIPPET.match(uri):
            view = await snippet_repo.get(session, caller.user_id, _uuid(match.group(1), "snippet"))
            return _text(uri, view.body, "text/markdown")
        if match := SNIPPET_VERSION.match(uri):
            view = await snippet_repo.get(session, caller.user_id, _uuid(match.group(1), "snippet"))
            version = await versions.get_version(session, view, int(match.group(2)))
            return _text(uri, version.body, "text/markdown")
        if match := WORKSPACE.match(uri):
            space = await workspace_repo.get_for(session, caller.user_id, _uuid(match.group(1), "workspace"))
            people = await members.list_members(session, caller, space.id)
            document: dict[str, Any] = {
                "id": str(space.id),
                "name": space.name,
                "slug": space.slug,
                "role": space.role,
                "members": [{"user_id": str(m.user_id), "name": m.name, "role": m.role} for m in people],
            }
            return _text(uri, json.dumps(document, indent=2), "application/json")
        if match := WORKSPACE_SNIPPETS.match(uri):
            workspace_id = _uuid(match.group(1), "workspace")
            filters = snippet_repo.Filters(workspace_id=workspace_id)
            page, more = await snippet_repo.list_visible(session, caller.user_id, filters, after=None, limit=PAGE_SIZE)
            document = {
                "workspace_id": str(workspace_id),
                "snippets": [summary_out(v, caller.user_id).model_dump() for v in page],
                # The rest through the list_snippets tool, with the same filter.
                "next_cursor": encode_position(more, filters) if more else None,
            }
            return _text(uri, json.dumps(document, indent=2), "application/json")
    raise NotFound("resource")


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(what) from None


def _text(uri: str, text: str, mime_type: str) -> ReadResourceResult:
    return ReadResourceResult(contents=[TextResourceContents(uri=uri, text=text, mime_type=mime_type)])
