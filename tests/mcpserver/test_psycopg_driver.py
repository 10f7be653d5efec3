"""The MCP server's writes on Postgres through psycopg (``SKILLS_POSTGRES_DRIVER=psycopg``), the
driver the rest of the suite does not use: saves, idempotency keys, taken slugs and changes,
whose outcome the server reads from what an INSERT returned (psycopg reports no row count for
an INSERT through SQLAlchemy)."""

from __future__ import annotations

from tests.conftest import Database
from tests.mcpserver.harness import call, fails, mcp_harness


async def test_saves_keys_slugs_and_changes_through_psycopg(postgres_database: Database) -> None:
    with mcp_harness(postgres_database, postgres_driver="psycopg") as harness:
        ada = harness.add_user("ada@example.com")
        async with harness.client(ada) as client:
            ws = (await call(client, "create_workspace", name="Driver"))["id"]
            create = {"workspace_id": ws, "title": "Same title", "body": "b", "idempotency_key": "k-1"}
            first = await call(client, "save_snippet", **create)
            assert (await client.call_tool("save_snippet", create)).structured_content == first  # answered again
            second = await call(client, "save_snippet", workspace_id=ws, title="Same title", body="c")
            assert second["slug"] != first["slug"] and second["slug"].startswith(first["slug"])  # derived: suffixed
            taken = await fails(client, "save_snippet", workspace_id=ws, title="T", body="d", slug=first["slug"])
            assert "already used" in taken
            changed = await call(client, "save_snippet", id=first["id"], body="b2", expected_version=1)
            assert changed["version"] == 2
            page = await call(client, "list_snippets", workspace_id=ws)
            assert sorted(s["id"] for s in page["snippets"]) == sorted([first["id"], second["id"]])
            assert (await call(client, "get_snippet", id=first["id"]))["body"] == "b2"


async def test_search_pages_through_psycopg(postgres_database: Database) -> None:
    """Search pages on (rank, id): ``ts_rank`` is a ``real``, which psycopg reads as its shortest
    decimal; the next page compares at the rank's own precision, or it would repeat a row."""
    with mcp_harness(postgres_database, postgres_driver="psycopg") as harness:
        ada = harness.add_user("ada@example.com")
        async with harness.client(ada) as client:
            ws = (await call(client, "create_workspace", name="Pages"))["id"]
            for i in range(7):
                await call(client, "save_snippet", workspace_id=ws, title=f"Release {i}", body="release " * (i + 1))
            seen: list[str] = []
            cursor: str | None = None
            while True:
                more: dict[str, str] = {"cursor": cursor} if cursor else {}
                page = await call(client, "search_snippets", query="release", limit=2, **more)
                seen += [result["id"] for result in page["results"]]
                if (cursor := page["next_cursor"]) is None:
                    break
            assert len(seen) == 7 == len(set(seen))
