"""The search tool: ranked full-text search over the snippets the caller can read.

The page size limit comes from the settings, so annotations are evaluated when ``register``
runs (no ``from __future__ import annotations``).
"""

import uuid
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import search as repo
from mcpserver.repository.snippets import Filters
from mcpserver.tools import fields
from mcpserver.tools.results import answer
from mcpserver.tools.snippets import SnippetSummaryOut, summary_fields

SCOPES: dict[str, tuple[str, ...]] = {"search_snippets": ("snippets:read",)}

DEFAULT_PAGE = 10
MAX_QUERY = 500
CURSOR_KIND = "search"


class SearchHit(SnippetSummaryOut):
    excerpt: str = Field(description="A passage of the body with the matching words between « and »")
    rank: float = Field(description="Relevance (higher is better); comparable within one search only")


class SearchPage(BaseModel):
    query: str
    results: list[SearchHit] = Field(description="Best match first; bodies via get_snippet")
    next_cursor: str | None = Field(description="Pass as cursor (with the same query and filters) for more")


def _query(text: str, filters: Filters) -> list[Any]:
    return [text, str(filters.workspace_id), sorted(filters.tags)]


def register(server: MCPServer, app: AppContext) -> None:
    settings = app.settings
    max_page = settings.max_page_size

    @server.tool(
        title="Search snippets",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def search_snippets(
        query: Annotated[
            str,
            Field(
                description='Words to find (all must occur; "quoted phrase", a or b, -word to exclude)',
                max_length=MAX_QUERY,
            ),
        ],
        workspace_id: Annotated[uuid.UUID | None, Field(description="Only this workspace")] = None,
        tags: Annotated[
            list[str] | None,
            Field(description=fields.tags_description(settings, "Only snippets carrying all of these")),
        ] = None,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Field(description=f"Page size (at most {max_page})", ge=1, le=max_page)] = DEFAULT_PAGE,
    ) -> Annotated[CallToolResult, SearchPage]:
        """Search the snippets you can read by title, tags, description and body, best match first.

        Words are matched by their stem (deploy finds deploying); titles weigh most, then tags.
        Each result has an excerpt with the matches between « and ». Read one with get_snippet.
        """
        text = " ".join(query.split())
        if not text:
            raise InvalidArgument("query", "must not be empty")
        filters = Filters(workspace_id=workspace_id, tags=tuple(fields.tags(tags or [], settings)))
        after = _decode(cursor, text, filters) if cursor else None
        caller = current_caller()
        async with app.transaction(caller) as session:
            hits, more = await repo.search(session, caller.user_id, text, filters, after=after, limit=limit)
        next_cursor = cursors.encode(CURSOR_KIND, [more.rank, str(more.id)], _query(text, filters)) if more else None
        result = {
            "query": text,
            "results": [
                {**summary_fields(h.snippet, caller.user_id), "excerpt": h.excerpt, "rank": h.rank} for h in hits
            ],
            "next_cursor": next_cursor,
        }
        if not hits:
            return answer(result, "Nothing matches." if not cursor else "No more matches.")
        lines = [f"- {h.snippet.title} (id {h.snippet.id}): {' '.join(h.excerpt.split())}" for h in hits]
        body = f"{len(hits)} match(es), best first:\n" + "\n".join(lines)
        if next_cursor:
            body += f"\nMore: call search_snippets again with cursor={next_cursor!r} and the same query."
        return answer(result, body)


def _decode(cursor: str, text: str, filters: Filters) -> repo.After:
    try:
        _, (rank, last_id) = cursors.decode(cursor, (CURSOR_KIND,), _query(text, filters))
        return repo.After(float(rank), uuid.UUID(last_id))
    except (cursors.InvalidCursor, ValueError, TypeError) as exc:
        reason = str(exc) if isinstance(exc, cursors.InvalidCursor) else "not a cursor from this server"
        raise InvalidArgument("cursor", reason) from None
