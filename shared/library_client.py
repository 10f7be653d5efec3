"""Reading the library over MCP as a signed-in user: the tools any MCP client calls.

A client never reaches the database: it sees exactly what the server's tools show this
user (``list_workspaces``, ``list_snippets`` page by page, ``get_snippet`` for a body),
and what the skills extension serves (``skills/list`` for each skill's files and digests,
``resources/read`` for a file's bytes), with the same permission rules and rate limits as
every other client.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from shared.skill_rules import paths

if TYPE_CHECKING:
    from mcp.client import Client

T = TypeVar("T")
PAGE = 100
RATE_LIMIT_RETRIES = 3
METHOD_NOT_FOUND = -32601
_RETRY_IN = re.compile(r"retry in (\d+) s")


class LibraryError(RuntimeError):
    """A tool call failed; the message is the server's own explanation (``code``: JSON-RPC's, if any)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SkillFile:
    """A supporting file of a skill as ``skills/list`` describes it."""

    path: str
    uri: str
    sha256: str
    size: int


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

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """An extension request's raw result (the SDK has no helpers for the skills extension)."""
        from mcp_types import Request
        from pydantic import BaseModel, ConfigDict

        class Raw(BaseModel):
            model_config = ConfigDict(extra="allow")

        request = Request[dict[str, Any], str](method=method, params=params)
        result = await _retrying(method, lambda: self.client.session.send_request(request, Raw))
        return result.model_extra or {}

    async def skill_files(self) -> dict[str, list[SkillFile]]:
        """The supporting files of every skill ``skills/list`` serves, by the skill's SKILL.md URI.

        Empty from a server without the skills extension: its skills have no files to sync.
        """
        found: dict[str, list[SkillFile]] = {}
        cursor: str | None = None
        while True:
            try:
                page = await self.request("skills/list", {"cursor": cursor} if cursor else {})
            except LibraryError as error:
                if error.code == METHOD_NOT_FOUND and not found:
                    return {}
                raise
            for entry in page.get("skills", []):
                root = entry["uri"].rsplit("/", 1)[0] + "/"
                found[entry["uri"]] = [
                    SkillFile(r["uri"].removeprefix(root), r["uri"], r["digest"].removeprefix("sha256:"), r["size"])
                    for r in entry.get("resources", [])
                    if r["uri"] != entry["uri"] and r["uri"].startswith(root) and _valid(r["uri"].removeprefix(root))
                ]
            cursor = page.get("nextCursor")
            if not cursor:
                return found

    async def read(self, uri: str) -> bytes:
        """A resource's bytes: its text as UTF-8, or its decoded blob."""
        result = await _retrying("resources/read", lambda: self.client.read_resource(uri))
        contents = result.contents[0]
        text = getattr(contents, "text", None)
        if text is not None:
            return str(text).encode()
        return base64.b64decode(getattr(contents, "blob", ""))


def _valid(path: str) -> bool:
    """Whether a served file's path is one a supporting file may have (and so safe on disk)."""
    try:
        paths.check(path)
    except paths.InvalidPath:
        return False
    return True


async def _retrying(method: str, send: Callable[[], Awaitable[T]]) -> T:
    """``send()``'s result; waits and retries when the server says it is rate limited."""
    from mcp.shared.exceptions import MCPError

    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            return await send()
        except MCPError as error:
            wait = _RETRY_IN.search(str(error))
            if not wait or attempt == RATE_LIMIT_RETRIES:
                raise LibraryError(f"{method}: {error}", error.code) from None
            await asyncio.sleep(min(int(wait.group(1)), 60) + 0.5)
    raise AssertionError("unreachable")
