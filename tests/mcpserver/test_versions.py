"""Versions through the real MCP client, on SQLite and Postgres: list, read, diff, restore, resource."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from tests.mcpserver.harness import McpHarness, call, fails


async def _history(client: Client) -> tuple[str, dict[str, Any]]:
    """A snippet saved three times: v1 created, v2 new body, v3 new title and tags."""
    ws = (await call(client, "create_workspace", name="History"))["id"]
    first = await call(client, "save_snippet", workspace_id=ws, title="Tone", body="Be kind.\nBe brief.", tags=["a"])
    await call(client, "save_snippet", id=first["id"], body="Be kind.\nBe very brief.", message="shorter")
    third = await call(client, "save_snippet", id=first["id"], title="Tone of voice", tags=["a", "b"])
    return ws, third


async def test_versions_are_listed_newest_first_in_pages(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com", "Ada")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
        page = await call(client, "list_snippet_versions", id=snippet["id"], limit=2)
        assert [v["version"] for v in page["versions"]] == [3, 2]
        assert page["latest_version"] == 3 and page["next_cursor"]
        assert page["versions"][1]["message"] == "shorter"
        assert page["versions"][0]["author_name"] == "Ada"
        rest = await call(client, "list_snippet_versions", id=snippet["id"], limit=2, cursor=page["next_cursor"])
        assert [v["version"] for v in rest["versions"]] == [1] and rest["next_cursor"] is None
        assert rest["versions"][0]["message"] == "created"
        other = await call(client, "save_snippet", workspace_id=snippet["workspace_id"], title="Other", body="b")
        error = await fails(client, "list_snippet_versions", id=other["id"], cursor=page["next_cursor"])
        assert "invalid cursor" in error and "different query" in error


async def test_get_snippet_reads_an_old_version(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
        old = await client.call_tool("get_snippet", {"id": snippet["id"], "version": 1})
        data = old.structured_content
        assert data is not None
        assert (data["version"], data["latest_version"], data["title"], data["tags"]) == (1, 3, "Tone", ["a"])
        assert data["body"] == "Be kind.\nBe brief."
        assert "old version: the newest is 3" in old.content[0].text  # type: ignore[union-attr]
        current = await call(client, "get_snippet", id=snippet["id"], version=3)
        assert current == await call(client, "get_snippet", id=snippet["id"])
        assert "versions 1 to 3" in await fails(client, "get_snippet", id=snippet["id"], version=9)


async def test_diff_is_a_unified_diff_of_metadata_and_body(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
        diff = await call(client, "diff_snippet_versions", id=snippet["id"], from_version=1, to_version=3)
        assert diff["changed"] == ["title", "body", "tags"]
        lines = diff["diff"].splitlines()
        assert lines[:2] == ["--- version 1", "+++ version 3"]
        assert {
            "-title: Tone",
            "+title: Tone of voice",
            "-Be brief.",
            "+Be very brief.",
            "-tags: a",
            "+tags: a, b",
        } <= set(lines)
        same = await call(client, "diff_snippet_versions", id=snippet["id"], from_version=2, to_version=2)
        assert (same["diff"], same["changed"]) == ("", [])


async def test_restore_adds_a_version_and_keeps_history_and_visibility(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
        await call(client, "share_snippet", id=snippet["id"], visibility="private")  # v4
        restored = await call(client, "restore_snippet_version", id=snippet["id"], version=1)
        assert (restored["version"], restored["title"], restored["body"]) == (5, "Tone", "Be kind.\nBe brief.")
        assert restored["visibility"] == "private"  # a restore never republishes
        versions = await call(client, "list_snippet_versions", id=snippet["id"])
        assert [v["version"] for v in versions["versions"]] == [5, 4, 3, 2, 1]
        assert versions["versions"][0]["message"] == "restored version 1"
        stale = await fails(client, "restore_snippet_version", id=snippet["id"], version=2, expected_version=4)
        assert "conflict" in stale and "version 5" in stale


async def test_versions_are_as_invisible_as_their_snippet(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
    async with harness.client(bob) as client:
        for tool, arguments in (
            ("list_snippet_versions", {"id": snippet["id"]}),
            ("get_snippet", {"id": snippet["id"], "version": 1}),
            ("diff_snippet_versions", {"id": snippet["id"], "from_version": 1, "to_version": 2}),
            ("restore_snippet_version", {"id": snippet["id"], "version": 1}),
        ):
            assert "not found" in await fails(client, tool, **arguments), tool
        assert "not found" in await fails(client, "list_snippet_versions", id=str(uuid.uuid4()))
        with pytest.raises(MCPError) as refused:
            await client.read_resource(f"snippet://{snippet['id']}/versions/1")
        assert refused.value.code == -32602


async def test_a_version_is_a_resource(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        _, snippet = await _history(client)
        (content,) = (await client.read_resource(f"snippet://{snippet['id']}/versions/1")).contents
        assert isinstance(content, TextResourceContents)
        assert (content.text, content.mime_type) == ("Be kind.\nBe brief.", "text/markdown")
        with pytest.raises(MCPError) as refused:
            await client.read_resource(f"snippet://{snippet['id']}/versions/7")
        assert refused.value.code == -32602 and "versions 1 to 3" in refused.value.message
