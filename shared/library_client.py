"""Reading the library over MCP as a signed-in user: the tools any MCP client calls.

A client never reaches the database: it sees exactly what the server's tools show this
user (``list_workspaces``, ``list_snippets`` page by page, ``get_snippet`` for a body),
with the same permission rules and rate limits as every other client.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.client import Client

PAGE = 100
RATE_LIMIT_RETRIES = 3
_RETRY_IN = re.compile(r"retry in (\d+) s")


class LibraryError(RuntimeError):
    """A tool call failed; the message is the server's own explanation."""


@dataclass(frozen=True)
class SnippetSummary:
    """One line of ``list_snippets``: enough to tell whether a synced skill is current."""

    id: str
    workspace_id: str
    slug: str
    version: int
    updated_at: str


class Library:
    """The library as one user sees it, through an open MCP client session."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A tool's structured result; waits and retries when the server says it is rate limited."""
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            result = await self.client.call_tool(tool, arguments)
            if not result.is_error and isinstance(result.structured_content, dict):
                return result.structured_content
            text = " ".join(getattr(block, "text", "") for block in result.content).strip()
            wait = _RETRY_IN.search(text)
            if wait and attempt < RATE_LIMIT_RETRIES:
                await asyncio.sleep(min(int(wait.group(1)), 60) + 0.5)
                continue
            raise LibraryError(f"{tool}: {text or 'no structured result'}")
        raise AssertionError("unreachable")

    async def workspaces(self) -> dict[str, str]:
        """The user's workspaces, id to slug."""
        data = await self.call("list_workspaces", {})
        return {w["id"]: w["slug"] for w in data.get("workspaces", [])}

    async def snippets(self, workspace_id: str | None = None) -> list[SnippetSummary]:
        """Every snippet the user can read (optionally in one workspace), following all cursors."""
        found: dict[str, SnippetSummary] = {}
        cursor: str | None = None
        while True:
            arguments: dict[str, Any] = {"limit": PAGE}
            if workspace_id is not None:
                arguments["workspace_id"] = workspace_id
            if cursor is not None:
                arguments["cursor"] = cursor
            page = await self.call("list_snippets", arguments)
            for item in page.get("snippets", []):
                found.setdefault(
                    item["id"],
                    SnippetSummary(item["id"], item["workspace_id"], item["slug"], item["version"], item["updated_at"]),
                )
            cursor = page.get("next_cursor")
            if not cursor:
                return list(found.values())

    async def snippet(self, snippet_id: str) -> dict[str, Any]:
        """One snippet with its body (``get_snippet``'s structured result)."""
        return await self.call("get_snippet", {"id": snippet_id})
