"""Tools for a snippet's history: list its versions, compare two, restore one.

History is never rewritten: restoring saves the old content as a new version. What a
restore brings back is the content (title, description, body, tags, variables); who may
read the snippet (visibility) and its slug stay as they are now, so restoring cannot
quietly publish something that was made private since.

The page size limit comes from the settings, so annotations are evaluated when ``register``
runs (no ``from __future__ import annotations``).
"""

import difflib
import json
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import snippets as snippet_repo
from mcpserver.repository import versions as repo
from mcpserver.tools.fields import MAX_VERSION, SnippetId
from mcpserver.tools.results import answer
from mcpserver.tools.snippets import SnippetOut, announce, audience_of, snippet_out

SCOPES: dict[str, tuple[str, ...]] = {
    "list_snippet_versions": ("snippets:read",),
    "diff_snippet_versions": ("snippets:read",),
    "restore_snippet_version": ("snippets:write",),
}

DEFAULT_PAGE = 20
CURSOR_KIND = "versions"
VersionNumber = Annotated[int, Field(description="A version number (see list_snippet_versions)", ge=1, le=MAX_VERSION)]


class VersionOut(BaseModel):
    version: int
    title: str
    author_id: str | None = Field(description="User id of who saved it")
    author_name: str | None = Field(description="Their name, if you share a workspace with them")
    message: str = Field(description="What changed, as its author said")
    created_at: str = Field(description="When it was saved (ISO 8601)")


class VersionPage(BaseModel):
    id: str = Field(description="Snippet id")
    latest_version: int
    versions: list[VersionOut] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor for older versions")


class DiffOut(BaseModel):
    id: str
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the two versions (metadata lines, then the body)")
    changed: list[str] = Field(description="The fields that differ")


def _document(version: repo.VersionView) -> list[str]:
    """A version as lines to compare: its metadata, a blank line, its body."""
    names = [v["name"] for v in version.variables]
    header = [
        f"title: {version.title}",
        f"description: {version.description}",
        f"tags: {', '.join(version.tags)}",
        f"visibility: {version.visibility}",
        f"variables: {json.dumps(version.variables, ensure_ascii=False) if names else ''}",
        "",
    ]
    return header + version.body.splitlines()


def _changed(a: repo.VersionView, b: repo.VersionView) -> list[str]:
    names = ("title", "description", "body", "tags", "visibility", "variables")
    return [name for name in names if getattr(a, name) != getattr(b, name)]


def register(server: MCPServer, app: AppContext) -> None:
    max_page = app.settings.max_page_size

    @server.tool(
        title="List a snippet's versions",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_snippet_versions(
        id: SnippetId,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(description=f"Page size (at most {max_page})", ge=1, le=max_page)] = DEFAULT_PAGE,
    ) -> Annotated[CallToolResult, VersionPage]:
        """List the versions of a snippet, newest first: who saved each, when, and why.

        Read one with get_snippet(id, version=N); compare two with diff_snippet_versions.
        """
        before = _decode(cursor, id) if cursor else None
        caller = current_caller()
        async with app.transaction(caller) as session:
            snippet = await snippet_repo.get(session, caller.user_id, id)
            page, more = await repo.list_versions(session, snippet, before=before, limit=limit)
        result = VersionPage(
            id=str(id),
            latest_version=snippet.version,
            versions=[
                VersionOut(
                    version=v.version,
                    title=v.title,
                    author_id=str(v.author_id) if v.author_id else None,
                    author_name=v.author_name,
                    message=v.message,
                    created_at=v.created_at.isoformat(),
                )
                for v in page
            ],
            next_cursor=cursors.encode(CURSOR_KIND, [more], str(id)) if more else None,
        )
        lines = [
            f"- v{v.version} {v.created_at:%Y-%m-%d %H:%M} by {v.author_name or v.author_id or 'unknown'}: "
            f"{v.message or '(no message)'}"
            for v in page
        ]
        text = f"{snippet.title!r} is at version {snippet.version}:\n" + "\n".join(lines)
        if result.next_cursor:
            text += f"\nOlder: call list_snippet_versions again with cursor={result.next_cursor!r}."
        return answer(result, text)

    @server.tool(
        title="Compare two versions",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def diff_snippet_versions(
        id: SnippetId,
        # Not `from`/`to`: tool arguments are Python parameters, and `from` is a keyword.
        from_version: Annotated[
            int, Field(description="The version to compare from (usually the older)", ge=1, le=MAX_VERSION)
        ],
        to_version: Annotated[
            int, Field(description="The version to compare to (usually the newer)", ge=1, le=MAX_VERSION)
        ],
    ) -> Annotated[CallToolResult, DiffOut]:
        """Show what changed between two versions of a snippet, as a unified diff."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            snippet = await snippet_repo.get(session, caller.user_id, id)
            a = await repo.get_version(session, snippet, from_version)
            b = await repo.get_version(session, snippet, to_version)
        diff = "\n".join(
            difflib.unified_diff(
                _document(a), _document(b), f"version {a.version}", f"version {b.version}", lineterm=""
            )
        )
        result = DiffOut(id=str(id), from_version=a.version, to_version=b.version, diff=diff, changed=_changed(a, b))
        if not diff:
            return answer(result, f"Versions {a.version} and {b.version} are the same.")
        return answer(result, f"Changed: {', '.join(result.changed)}\n\n{diff}")

    @server.tool(
        title="Restore a version",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    )
    async def restore_snippet_version(
        id: SnippetId,
        version: VersionNumber,
        expected_version: Annotated[
            int | None,
            Field(description="The newest version you know of; a newer one is a conflict", ge=1, le=MAX_VERSION),
        ] = None,
        message: Annotated[str, Field(description="Why (kept with the new version)", max_length=500)] = "",
    ) -> Annotated[CallToolResult, SnippetOut]:
        """Bring back an earlier version's content as a new version (history is kept).

        Title, description, body, tags and variables come back; visibility and slug stay as they are now.
        """
        caller = current_caller()
        async with app.transaction(caller) as session:
            snippet = await snippet_repo.get(session, caller.user_id, id)
            view = await repo.restore(
                session,
                caller,
                snippet,
                version,
                expected_version=expected_version,
                message=message.strip() or f"restored version {version}",
            )
            audience = await audience_of(app, session, view)
        await announce(app, audience, view.id, updated=True)
        return answer(
            snippet_out(view, caller.user_id),
            f"Restored version {version} of {view.title!r} as version {view.version}.",
        )


def _decode(cursor: str, snippet_id: object) -> int:
    try:
        _, (before,) = cursors.decode(cursor, (CURSOR_KIND,), str(snippet_id))
        return int(before)
    except (cursors.InvalidCursor, ValueError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, cursors.InvalidCursor) else "not a cursor from this server"
        raise InvalidArgument("cursor", reason) from None
