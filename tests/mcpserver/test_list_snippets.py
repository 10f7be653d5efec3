"""list_snippets: summaries only, newest first, filters, and cursor pages that stay stable under inserts."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.client import Client

from tests.mcpserver.harness import McpHarness, call, fails


async def _seed(client: Client, workspace_id: str, count: int, **fields: Any) -> list[str]:
    ids = []
    for i in range(count):
        snippet = await call(
            client, "save_snippet", workspace_id=workspace_id, title=f"s{i}", body=f"body {i}", **fields
        )
        ids.append(snippet["id"])
    return ids


async def _all_pages(client: Client, limit: int, **filters: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        page = await call(client, "list_snippets", limit=limit, **filters, **({"cursor": cursor} if cursor else {}))
        pages.append(page["snippets"])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


async def test_pages_cover_everything_newest_first_without_a_cap(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Big"))["id"]
        ids = await _seed(client, ws, 120)
        first = await call(client, "list_snippets", limit=100)
        assert len(first["snippets"]) == 100 and first["next_cursor"]
        assert "body" not in first["snippets"][0]  # summaries only
        pages = await _all_pages(client, 17)
    items = [s for page in pages for s in page]
    assert [len(p) for p in pages] == [17] * 7 + [1]
    assert [s["id"] for s in items] == list(reversed(ids))  # newest first, each exactly once
    stamps = [s["updated_at"] for s in items]
    assert stamps == sorted(stamps, reverse=True)


async def test_paging_is_stable_while_others_insert(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Busy"))["id"]
        await call(client, "invite_to_workspace", workspace_id=ws, email="bob@example.com")
        before = set(await _seed(client, ws, 40))
    async with harness.client(ada) as reader, harness.client(bob) as writer:
        seen: list[str] = []
        inserted: list[str] = []
        cursor = None
        while True:
            # A page read and an insert by someone else, at the same time.
            page, new = await asyncio.gather(
                call(reader, "list_snippets", workspace_id=ws, limit=6, **({"cursor": cursor} if cursor else {})),
                call(writer, "save_snippet", workspace_id=ws, title="new", body="b"),
            )
            inserted.append(new["id"])
            seen += [s["id"] for s in page["snippets"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert len(seen) == len(set(seen)), "an item was served twice"
    assert before <= set(seen), "an item that existed before paging started was skipped"
    # Only inserts racing the first page can show up; later ones are newer than the cursor.
    assert set(seen) - before <= set(inserted[:1])


async def test_filters_and_their_cursors(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Tags"))["id"]
        await call(client, "invite_to_workspace", workspace_id=ws, email="bob@example.com")
        both = await _seed(client, ws, 3, tags=["python", "review"])
        python_only = await _seed(client, ws, 2, tags=["python"])
        private = await _seed(client, ws, 2, visibility="private")
    async with harness.client(bob) as client:
        mine = await _seed(client, ws, 2, tags=["Python"])
        tagged = [s["id"] for page in await _all_pages(client, 2, tags=["python", "review"]) for s in page]
        assert set(tagged) == set(both)
        python = {s["id"] for page in await _all_pages(client, 3, tags=["PYTHON"]) for s in page}
        assert python == set(both + python_only + mine)
        assert {s["id"] for s in (await call(client, "list_snippets", mine=True))["snippets"]} == set(mine)
        assert (await call(client, "list_snippets", visibility="private"))["snippets"] == []
        page = await call(client, "list_snippets", tags=["python"], limit=2)
        error = await fails(client, "list_snippets", tags=["review"], cursor=page["next_cursor"])
        assert "invalid cursor" in error and "different query" in error
        assert "invalid cursor" in await fails(
            client, "list_snippets", tags=["python"], cursor=page["next_cursor"][:-4]
        )
    async with harness.client(ada) as client:
        visible = {s["id"] for s in (await call(client, "list_snippets", visibility="private"))["snippets"]}
        assert visible == set(private)
