"""Limits from the settings, on SQLite and Postgres: published in the tool schemas, enforced with
``invalid <field>: …`` tool errors (413 for bodies), and a refused save writes nothing.

The server runs with small limits, so each one is reached with small arguments, and the
values right at a limit are accepted (no off-by-one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import make_engine
from shared.models import AuditEvent, Snippet, SnippetVersion
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, fails, mcp_harness

LIMITS: dict[str, Any] = {
    "snippet_max_title": 20,
    "snippet_max_body": 200,
    "snippet_max_description": 30,
    "snippet_max_tags": 3,
    "snippet_max_tag_length": 10,
    "snippet_max_variables": 2,
    "variable_max_description": 15,
    "variable_max_default": 25,
    "max_page_size": 5,
    "mcp_max_request_bytes": 64 * 1024,
}
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Protocol-Version": "2025-11-25",
}


@pytest.fixture
def limited(database: Database) -> Iterator[McpHarness]:
    with mcp_harness(database, **LIMITS) as running:
        yield running


def _counts(harness: McpHarness) -> tuple[int, int, int]:
    """Snippets, versions and snippet audit events, read as the database owner (no RLS)."""
    engine = make_engine(harness.settings.admin_database_url)
    try:
        with Session(engine) as session:
            snippets = session.scalar(select(func.count()).select_from(Snippet)) or 0
            versions = session.scalar(select(func.count()).select_from(SnippetVersion)) or 0
            events = (
                session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("snippet.%")))
                or 0
            )
            return snippets, versions, events
    finally:
        engine.dispose()


async def test_the_tool_schemas_state_the_configured_limits(limited: McpHarness) -> None:
    user = limited.add_user("schema@example.com")
    async with limited.client(user) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    save = tools["save_snippet"].input_schema["properties"]

    def string_limit(prop: dict[str, Any]) -> int:
        return next(option["maxLength"] for option in prop["anyOf"] if option.get("type") == "string")

    assert (string_limit(save["title"]), string_limit(save["body"]), string_limit(save["description"])) == (20, 200, 30)
    assert next(o["maxItems"] for o in save["variables"]["anyOf"] if o.get("type") == "array") == 2
    for field, words in {
        "title": "at most 20 characters",
        "body": "at most 200 characters",
        "tags": "at most 3, each at most 10 characters",
        "variables": "at most 2, descriptions of at most 15 and defaults of at most 25 characters",
    }.items():
        assert words in save[field]["description"], field
    for name in ("list_snippets", "list_snippet_versions", "search_snippets"):
        limit = tools[name].input_schema["properties"]["limit"]
        assert limit["maximum"] == 5 and "at most 5" in limit["description"], name


async def test_values_at_each_limit_are_saved(limited: McpHarness) -> None:
    user = limited.add_user("edge@example.com")
    async with limited.client(user) as client:
        ws = (await call(client, "create_workspace", name="Edge"))["id"]
        saved = await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title="t" * 20,
            body="{{a}} {{b}} " + "x" * 188,
            description="d" * 30,
            tags=["a" * 10, "b", "c"],
            variables=[
                {"name": "a", "description": "e" * 15, "default": "f" * 25},
                {"name": "b"},
            ],
        )
        assert (len(saved["title"]), len(saved["body"]), len(saved["tags"]), len(saved["variables"])) == (20, 200, 3, 2)
        for _ in range(6):
            await call(client, "save_snippet", workspace_id=ws, title="More", body="text")
        page = await call(client, "list_snippets", workspace_id=ws, limit=5)
        assert len(page["snippets"]) == 5 and page["next_cursor"]
    assert _counts(limited)[:2] == (7, 7)


async def test_every_limit_is_refused_by_name_and_nothing_is_written(limited: McpHarness) -> None:
    user = limited.add_user("over@example.com")
    async with limited.client(user) as client:
        ws = (await call(client, "create_workspace", name="Over"))["id"]
        base = {"workspace_id": ws, "title": "Fine", "body": "fine"}
        refused: list[tuple[dict[str, Any], str]] = [
            ({"title": "t" * 21}, "invalid title: string should have at most 20 characters"),
            ({"body": "b" * 201}, "invalid body: string should have at most 200 characters"),
            ({"description": "d" * 31}, "invalid description: string should have at most 30 characters"),
            ({"tags": ["a", "b", "c", "d"]}, "invalid tags: at most 3 tags"),
            ({"tags": ["a" * 11]}, "invalid tags: a tag has at most 10 characters"),
            ({"body": "{{a}} {{b}} {{c}}"}, "invalid body: it uses 3 {{variables}}: a snippet has at most 2"),
            (
                {"body": "{{a}} {{b}} {{c}}", "variables": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
                "invalid variables: list should have at most 2 items",
            ),
            (
                {"body": "{{a}}", "variables": [{"name": "a", "description": "e" * 16}]},
                "invalid variables: the description of 'a' has more than 15 characters",
            ),
            (
                {"body": "{{a}}", "variables": [{"name": "a", "default": "f" * 26}]},
                "invalid variables: the default of 'a' has more than 25 characters",
            ),
            ({"body": "{{a}}", "variables": [{"name": "a" * 65}]}, "invalid variables.0.name: string should have at"),
            ({"title": "nul\x00"}, "invalid title: must not contain NUL characters"),
        ]
        for change, message in refused:
            error = await fails(client, "save_snippet", **{**base, **change})
            assert message in error, (change, error)
            assert "validation error" not in error and "pydantic" not in error
        assert _counts(limited) == (0, 0, 0)

        # Updates: the snippet keeps its one version whatever is refused.
        saved = await call(client, "save_snippet", **base)
        for change, message in refused:
            error = await fails(client, "save_snippet", id=saved["id"], **change)
            assert message in error, (change, error)
        assert (await call(client, "get_snippet", id=saved["id"]))["version"] == 1
        assert _counts(limited) == (1, 1, 1)

        for tool, arguments in (
            ("list_snippets", {"limit": 6}),
            ("search_snippets", {"query": "fine", "limit": 6}),
            ("list_snippet_versions", {"id": saved["id"], "limit": 6}),
        ):
            assert "invalid limit: input should be less than or equal to 5" in await fails(client, tool, **arguments)
        assert "invalid tags: at most 3 tags" in await fails(client, "list_snippets", tags=["a", "b", "c", "d"])


async def test_a_request_body_over_the_limit_is_413_and_writes_nothing(limited: McpHarness) -> None:
    user = limited.add_user("bytes@example.com")
    async with limited.client(user) as client:
        ws = (await call(client, "create_workspace", name="Bytes"))["id"]
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "save_snippet",
            "arguments": {"workspace_id": ws, "title": "Big", "body": "x", "message": "m" * (64 * 1024)},
        },
    }
    headers = {**HEADERS, "Authorization": f"Bearer {limited.token(user)}"}
    response = httpx.post(limited.resource, content=json.dumps(message), headers=headers, timeout=30)
    assert response.status_code == 413
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "request body larger than 65536 bytes (mcp_max_request_bytes)",
    }
    assert _counts(limited) == (0, 0, 0)
    # Just under the limit is read (and refused by the tool, for its message length).
    message["params"]["arguments"]["message"] = "m" * (60 * 1024)  # type: ignore[index]
    response = httpx.post(limited.resource, content=json.dumps(message), headers=headers, timeout=30)
    assert response.status_code == 200
    assert "invalid message: string should have at most 500 characters" in response.text
    assert _counts(limited) == (0, 0, 0)
