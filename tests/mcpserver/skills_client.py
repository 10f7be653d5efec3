"""The skills extension's methods through the official client, which has no helpers for them yet."""

from __future__ import annotations

from typing import Any

from mcp.client import Client
from mcp_types import Request
from pydantic import TypeAdapter

ANY_RESULT = TypeAdapter(dict[str, Any])
ExtensionRequest = Request[dict[str, Any], str]
"""Params kept as given (the unparametrized ``Request`` would coerce them into bare ``RequestParams``)."""


async def request(client: Client, method: str, **params: Any) -> dict[str, Any]:
    """Send an extension request; its raw result (MCPError on a JSON-RPC error)."""
    return await client.session.send_request(ExtensionRequest(method=method, params=params), ANY_RESULT)


async def list_all_skills(client: Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every entry of ``skills/list``, following cursors; and the pages as they came."""
    entries: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = await request(client, "skills/list", **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        entries += page["skills"]
        cursor = page.get("nextCursor")
        if not cursor:
            return entries, pages
