"""search_snippets through the real MCP client on SQLite (FTS5) and Postgres (tsvector + GIN),
and on Postgres the plan: the GIN index under row-level security, as the MCP role."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest
from mcp.client import Client
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

from mcpserver.repository import search as search_repo
from mcpserver.repository.snippets import Filters
from shared import schema
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, fails


async def _search(client: Client, query: str, **arguments: Any) -> list[dict[str, Any]]:
    return list((await call(client, "search_snippets", query=query, **arguments))["results"])


async def test_ranked_by_title_then_tags_then_body_with_highlighted_excerpts(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Search"))["id"]
        body_hit = await call(
            client, "save_snippet", workspace_id=ws, title="Notes", body="Before we start deploying, check the logs."
        )
        tag_hit = await call(client, "save_snippet", workspace_id=ws, title="Checklist", body="Steps.", tags=["deploy"])
        title_hit = await call(client, "save_snippet", workspace_id=ws, title="Deploy to production", body="Go.")
        await call(client, "save_snippet", workspace_id=ws, title="Unrelated", body="Nothing to see.")

        results = await _search(client, "deploy")
        assert [r["id"] for r in results] == [title_hit["id"], tag_hit["id"], body_hit["id"]]
        assert results[0]["rank"] > results[1]["rank"] > results[2]["rank"]
        assert "«deploying»" in results[2]["excerpt"]  # stemmed, and marked
        assert "body" not in results[0]  # summaries: bodies via get_snippet

        assert [r["id"] for r in await _search(client, '"check the logs"')] == [body_hit["id"]]
        assert {r["id"] for r in await _search(client, "production or logs")} == {title_hit["id"], body_hit["id"]}
        assert [r["id"] for r in await _search(client, "deploy -production -logs")] == [tag_hit["id"]]
        assert await _search(client, "kubernetes") == []
        assert await _search(client, 'AND OR NOT "(" *') == []  # no query syntax gets through unquoted


async def test_filters_visibility_and_changes_are_followed(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(bob) as client:
        bobs = (await call(client, "create_workspace", name="Bob"))["id"]
        public = await call(
            client, "save_snippet", workspace_id=bobs, title="Python tips", body="b", visibility="public"
        )
        await call(client, "save_snippet", workspace_id=bobs, title="Python secrets", body="b")
    async with harness.client(ada) as client:
        one = (await call(client, "create_workspace", name="One"))["id"]
        two = (await call(client, "create_workspace", name="Two"))["id"]
        a = await call(client, "save_snippet", workspace_id=one, title="Python style", body="b", tags=["style"])
        b = await call(client, "save_snippet", workspace_id=two, title="Python tests", body="b", tags=["tests"])
        mine = await call(client, "save_snippet", workspace_id=two, title="Python", body="b", visibility="private")

        assert {r["id"] for r in await _search(client, "python")} == {a["id"], b["id"], mine["id"], public["id"]}
        assert {r["id"] for r in await _search(client, "python", workspace_id=two)} == {b["id"], mine["id"]}
        assert [r["id"] for r in await _search(client, "python", tags=["Style"])] == [a["id"]]

        await call(client, "save_snippet", id=a["id"], title="Ruby style")  # the index follows every save
        assert a["id"] not in {r["id"] for r in await _search(client, "python")}
        assert [r["id"] for r in await _search(client, "ruby")] == [a["id"]]
        await call(client, "delete_snippet", id=b["id"])
        assert b["id"] not in {r["id"] for r in await _search(client, "python")}
    async with harness.client(bob) as client:
        assert mine["id"] not in {r["id"] for r in await _search(client, "python")}  # Ada's private one


async def test_results_come_in_pages(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Pages"))["id"]
        for i in range(7):
            await call(client, "save_snippet", workspace_id=ws, title=f"Release {i}", body="release " * (i + 1))
        seen, cursor = [], None
        while True:
            page = await call(
                client, "search_snippets", query="release", limit=3, **({"cursor": cursor} if cursor else {})
            )
            seen += [(r["rank"], r["id"]) for r in page["results"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 7 and len({i for _, i in seen}) == 7
        assert [r for r, _ in seen] == sorted((r for r, _ in seen), reverse=True)
        error = await fails(client, "search_snippets", query="other", cursor=page_cursor(seen))
        assert "invalid cursor" in error
        assert "invalid query" in await fails(client, "search_snippets", query="   ")


def page_cursor(seen: list[tuple[float, str]]) -> str:
    from mcpserver import cursors

    return cursors.encode("search", [seen[0][0], seen[0][1]], ["release", "None", []])


# --- Postgres: the plan ---------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_search_uses_the_gin_index_under_rls(postgres_database: Database) -> None:
    """A selective search on a few thousand snippets, planned with real statistics, as the MCP
    role with ``app.user_id`` set: a bitmap scan of ``ix_snippets_search``, not a table scan."""
    settings = postgres_database.settings()
    schema.upgrade(settings)
    user, other = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(postgres_database.admin_url) as conn:
        conn.execute(
            "insert into users (id, email, name, updated_at, created_at)"
            " values (%s, 'a@x.org', 'A', now(), now()), (%s, 'b@x.org', 'B', now(), now())",
            (user, other),
        )
        conn.execute(
            "insert into workspaces (id, name, slug, created_by, created_at)"
            " select gen_random_uuid(), 'w' || i, 'w' || i, null, now() from generate_series(1, 20) i"
        )
        conn.execute(
            "insert into workspace_members (workspace_id, user_id, role, created_at)"
            " select id, case when slug in ('w1', 'w2') then %s::uuid else %s::uuid end, 'owner', now()"
            " from workspaces",
            (user, other),
        )
        conn.execute(
            """
            insert into snippets (id, workspace_id, created_by, slug, title, description, body, tags, visibility,
                                  variables, version, updated_at, created_at)
            select gen_random_uuid(), w.id, m.user_id, 's' || i, 'Snippet ' || i || case when i % 1000 = 0
                   then ' kubernetes rollout' else '' end, '',
                   repeat('lorem ipsum dolor sit amet consectetur adipiscing elit ', 15) || md5(i::text),
                   '["notes"]', (array['private', 'workspace', 'public'])[i % 3 + 1], '[]', 1, now(), now()
            from generate_series(1, 4000) i
            join workspaces w on w.slug = 'w' || (i % 20 + 1)
            join workspace_members m on m.workspace_id = w.id
            """
        )
        conn.execute("analyze")
    filters = Filters()
    statement = search_repo._postgres(_FakeSession(), user, "kubernetes", filters, None, 11)  # type: ignore[arg-type]
    compiled = statement.compile(dialect=psycopg_dialect())
    sql, params = str(compiled), compiled.params
    with psycopg.connect(settings.mcp_db_url) as conn:
        conn.execute("select set_config('app.user_id', %s, true)", (str(user),))
        row = conn.execute("explain (analyze, format json) " + sql, params).fetchone()
        assert row is not None
        hits = conn.execute(sql, params).fetchall()
    nodes = list(_nodes(row[0][0]["Plan"]))
    on_snippets = [n["Node Type"] for n in nodes if n.get("Relation Name") == "snippets"]
    assert on_snippets == ["Bitmap Heap Scan"], json.dumps(row[0])
    index_scans = [n for n in nodes if n["Node Type"] == "Bitmap Index Scan"]
    assert [n["Index Name"] for n in index_scans] == ["ix_snippets_search"]
    assert index_scans[0]["Actual Rows"] <= 10  # selective: the index found the few candidates
    assert 1 <= len(hits) <= 4

    # The LEAKPROOF mark of migration 0004 is what makes this possible: without it, a table scan.
    with psycopg.connect(postgres_database.admin_url) as conn:
        conn.execute("alter function ts_match_vq(tsvector, tsquery) not leakproof")
    with psycopg.connect(settings.mcp_db_url) as conn:
        conn.execute("select set_config('app.user_id', %s, true)", (str(user),))
        row = conn.execute("explain (format json) " + sql, params).fetchone()
        assert row is not None
    assert [n["Node Type"] for n in _nodes(row[0][0]["Plan"]) if n.get("Relation Name") == "snippets"] == ["Seq Scan"]


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


class _FakeSession:
    """Just enough of a session for building the statement (the tag filter asks for the dialect)."""

    def get_bind(self) -> Any:
        class Bind:
            dialect = postgresql.dialect()

        return Bind()
