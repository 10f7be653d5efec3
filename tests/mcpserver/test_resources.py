"""Resources: three templates, concrete per-user resources in pages, reads, and private caching."""

from __future__ import annotations

import json
import uuid

import pytest
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents

from mcpserver import resources
from tests.mcpserver.harness import McpHarness, call


async def test_templates_are_published(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates][:4] == [
        "workspace://{id}",
        "workspace://{id}/snippets",
        "snippet://{id}",
        "snippet://{id}/versions/{n}",
    ]


async def test_each_resource_type_reads_what_the_caller_may_see(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com", "Ada"), harness.add_user("bob@example.com", "Bob")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Docs"))["id"]
        shared = await call(client, "save_snippet", workspace_id=ws, title="Shared", body="# Hello\nworld")
        mine = await call(client, "save_snippet", workspace_id=ws, title="Mine", body="secret", visibility="private")

        body = (await client.read_resource(f"snippet://{shared['id']}")).contents[0]
        assert isinstance(body, TextResourceContents)
        assert (body.text, body.mime_type) == ("# Hello\nworld", "text/markdown")
        space = (await client.read_resource(f"workspace://{ws}")).contents[0]
        assert isinstance(space, TextResourceContents)
        document = json.loads(space.text)
        assert (document["name"], document["role"], [m["name"] for m in document["members"]]) == (
            "Docs",
            "owner",
            ["Ada"],
        )
        listing = (await client.read_resource(f"workspace://{ws}/snippets")).contents[0]
        assert isinstance(listing, TextResourceContents)
        titles = [s["title"] for s in json.loads(listing.text)["snippets"]]
        assert titles == ["Mine", "Shared"]
        assert "secret" not in listing.text  # summaries, no bodies

    async with harness.client(bob) as client:
        refusals = []
        for uri in (
            f"snippet://{mine['id']}",
            f"snippet://{shared['id']}",  # workspace visibility, and Bob is not a member
            f"workspace://{ws}",
            f"snippet://{uuid.uuid4()}",
            "snippet://not-an-id",
            "elsewhere://x",
        ):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(uri)
            refusals.append((refused.value.code, refused.value.message))
        assert {code for code, _ in refusals} == {-32602}
        # Invisible and nonexistent snippets answer the same.
        assert refusals[0] == refusals[1] == refusals[3]
        listing = (await client.read_resource(f"workspace://{ws}/snippets")).contents[0]
        assert isinstance(listing, TextResourceContents)
        assert json.loads(listing.text)["snippets"] == []


async def test_resource_list_pages_through_workspaces_then_visible_snippets(
    harness: McpHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "PAGE_SIZE", 5)
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(bob) as client:
        other = (await call(client, "create_workspace", name="Other"))["id"]
        public = await call(client, "save_snippet", workspace_id=other, title="P", body="b", visibility="public")
        await call(client, "save_snippet", workspace_id=other, title="Hidden", body="b")
    async with harness.client(ada) as client:
        spaces = [(await call(client, "create_workspace", name=n))["id"] for n in ("Alpha", "Beta", "Gamma")]
        snippets = [
            (await call(client, "save_snippet", workspace_id=spaces[0], title=f"s{i}", body="b"))["id"]
            for i in range(7)
        ]
        uris, cursor, pages = [], None, 0
        while True:
            page = await client.list_resources(cursor=cursor)
            pages += 1
            assert len(page.resources) <= 5
            uris += [r.uri for r in page.resources]
            cursor = page.next_cursor
            if cursor is None:
                break
        with pytest.raises(MCPError) as refused:
            await client.list_resources(cursor="nonsense")
        assert refused.value.code == -32602
    workspace_uris = [u for s in spaces for u in (f"workspace://{s}", f"workspace://{s}/snippets")]
    snippet_uris = [f"snippet://{s}" for s in [public["id"], *snippets][::-1]]
    assert uris == workspace_uris + snippet_uris  # nothing of Bob's but his public snippet
    assert pages == 3


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_per_user_lists_are_marked_private(harness: McpHarness, mode: str) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada, mode=mode) as client:
        ws = (await call(client, "create_workspace", name="Cache"))["id"]
        listed = await client.list_resources()
        read = await client.read_resource(f"workspace://{ws}")
        tools = await client.list_tools()
    if mode == "2026-07-28":
        assert (listed.cache_scope, read.cache_scope) == ("private", "private")
        assert tools.cache_scope == "public"
    assert listed.resources[0].uri == f"workspace://{ws}"
