"""Safe writes: idempotency keys (both databases, through the MCP client) and concurrent
updates of one snippet by truly concurrent transactions on Postgres."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import update

from mcpserver.context import AppContext, Caller
from mcpserver.database import make_mcp_engine
from mcpserver.errors import Conflict
from mcpserver.repository import snippets as repo
from shared import schema
from shared.db import async_session_factory, make_engine
from shared.models import IdempotencyKey, utcnow
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, fails


async def _count(client: Any, workspace_id: str) -> int:
    return len((await call(client, "list_snippets", workspace_id=workspace_id, limit=100))["snippets"])


async def test_a_retried_save_with_its_key_is_answered_not_repeated(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Keys"))["id"]
        create = {"workspace_id": ws, "title": "Once", "body": "b", "idempotency_key": "k-1"}
        first = await call(client, "save_snippet", **create)
        again = await client.call_tool("save_snippet", create)
        assert again.structured_content == first
        assert "Already saved with this idempotency_key" in again.content[0].text  # type: ignore[union-attr]
        assert await _count(client, ws) == 1

        update_ = {"id": first["id"], "body": "b2", "idempotency_key": "k-2"}
        second = await call(client, "save_snippet", **update_)
        await call(client, "save_snippet", id=first["id"], body="b3")  # someone saves in between
        assert await call(client, "save_snippet", **update_) == {**second, "latest_version": 3}  # still v2's answer
        versions = await call(client, "list_snippet_versions", id=first["id"])
        assert [v["version"] for v in versions["versions"]] == [3, 2, 1]

        reused = await fails(client, "save_snippet", **{**create, "title": "Other"})
        assert "conflict" in reused and "other arguments" in reused
        assert "invalid idempotency_key" in await fails(client, "save_snippet", **{**create, "idempotency_key": " "})


async def test_concurrent_retries_with_one_key_save_once(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Race"))["id"]
        arguments = {"workspace_id": ws, "title": "Raced", "body": "b", "idempotency_key": str(uuid.uuid4())}
        results = await asyncio.gather(*(client.call_tool("save_snippet", arguments) for _ in range(6)))
        assert all(not r.is_error for r in results), [r.content for r in results]
        assert len({r.structured_content["id"] for r in results if r.structured_content}) == 1
        assert await _count(client, ws) == 1


async def test_keys_belong_to_one_user_fail_safe_and_expire(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Shared"))["id"]
        await call(client, "invite_to_workspace", workspace_id=ws, email="bob@example.com")
        # A failed save leaves its key free.
        assert "not found" in await fails(
            client, "save_snippet", id=str(uuid.uuid4()), body="x", idempotency_key="same"
        )
        mine = await call(client, "save_snippet", workspace_id=ws, title="A", body="b", idempotency_key="same")
    async with harness.client(bob) as client:
        his = await call(client, "save_snippet", workspace_id=ws, title="A", body="b", idempotency_key="same")
        assert his["id"] != mine["id"]  # the same key of another user is another key
    engine = make_engine(harness.settings.admin_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(days=2)))
    finally:
        engine.dispose()
    async with harness.client(ada) as client:
        later = await call(client, "save_snippet", workspace_id=ws, title="A", body="b", idempotency_key="same")
        assert later["id"] != mine["id"]  # expired: a new save
        assert await _count(client, ws) == 3


# --- truly concurrent writers on Postgres -------------------------------------------------


@asynccontextmanager
async def _app(database: Database) -> AsyncIterator[tuple[AppContext, Caller, uuid.UUID]]:
    """The MCP server's own engine and repository, as the MCP role, with one user and one snippet."""
    settings = database.settings()
    schema.upgrade(settings)
    user, workspace = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database.admin_url) as conn:
        conn.execute(
            "insert into users (id, email, name, updated_at, created_at) values (%s, 'a@x.org', 'A', now(), now())",
            (user,),
        )
        conn.execute(
            "insert into workspaces (id, name, slug, created_by, created_at) values (%s, 'W', 'w', %s, now())",
            (workspace, user),
        )
        conn.execute(
            "insert into workspace_members (workspace_id, user_id, role, created_at) values (%s, %s, 'owner', now())",
            (workspace, user),
        )
    engine = make_mcp_engine(settings)
    app = AppContext(settings=settings, sessions=async_session_factory(engine))
    caller = Caller(user, "test-client", frozenset())
    async with app.transaction(caller) as session:
        snippet = await repo.create(
            session, caller, workspace, title="T", body="v1", description="", tags=[], visibility="workspace",
            slug=None, message="created",
        )  # fmt: skip
    try:
        yield app, caller, snippet.id
    finally:
        await engine.dispose()


async def _wait_until_blocked(database: Database) -> None:
    """Until a transaction of the MCP role waits for a row lock (the second writer has reached its update)."""
    role = database.settings().db_mcp_role
    for _ in range(200):
        with psycopg.connect(database.admin_url) as conn:
            row = conn.execute(
                "select count(*) from pg_stat_activity where usename = %s and wait_event_type = 'Lock'", (role,)
            ).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")


async def _versions(database: Database, snippet_id: uuid.UUID) -> list[tuple[int, str]]:
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "select version, body from snippet_versions where snippet_id = %s order by version", (snippet_id,)
        ).fetchall()
    return [(int(v), str(b)) for v, b in rows]


@pytest.mark.postgres
@pytest.mark.parametrize("expected", [None, 1])
async def test_concurrent_transactions_lose_no_version(postgres_database: Database, expected: int | None) -> None:
    """A and B read version 1 at the same time; A commits first while B waits on the row.

    Without an expected version B's save becomes version 3 on top of A's (nothing lost);
    with expected_version=1 it is a conflict. Either way history is 1, 2 (A), [3 (B)].
    """
    async with _app(postgres_database) as (app, caller, snippet_id):
        async with app.transaction(caller) as a:
            await repo.change(a, caller, snippet_id, repo.Changes(body="by A"), expected_version=expected, message="A")

            async def writer_b() -> repo.SnippetView:
                async with app.transaction(caller) as b:
                    return await repo.change(
                        b, caller, snippet_id, repo.Changes(body="by B"), expected_version=expected, message="B"
                    )

            b_task = asyncio.create_task(writer_b())
            await _wait_until_blocked(postgres_database)
            # Leaving this block commits A, which lets B's UPDATE go on.
        if expected is None:
            assert (await b_task).version == 3
            assert await _versions(postgres_database, snippet_id) == [(1, "v1"), (2, "by A"), (3, "by B")]
        else:
            with pytest.raises(Conflict, match="version 2, not 1"):
                await b_task
            assert await _versions(postgres_database, snippet_id) == [(1, "v1"), (2, "by A")]


@pytest.mark.postgres
async def test_many_writers_on_two_replicas_lose_nothing(postgres_database: Database) -> None:
    """Sixteen clients on two server processes save the same snippet at once, each with the version it read."""
    from tests.mcpserver.harness import mcp_harness

    with mcp_harness(postgres_database) as harness, harness.replica() as replica:
        ada = harness.add_user("ada@example.com")
        async with harness.client(ada) as client:
            ws = (await call(client, "create_workspace", name="Busy"))["id"]
            snippet = await call(client, "save_snippet", workspace_id=ws, title="T", body="v1")

        async def writer(i: int) -> Any:
            server = harness if i % 2 else replica
            async with server.client(ada) as c:
                return await c.call_tool("save_snippet", {"id": snippet["id"], "body": f"w{i}", "expected_version": 1})

        results = await asyncio.gather(*(writer(i) for i in range(16)))
        winners = [r.structured_content for r in results if not r.is_error]
        assert len(winners) == 1 and winners[0] is not None and winners[0]["version"] == 2
        assert all("conflict" in r.content[0].text for r in results if r.is_error)  # type: ignore[union-attr]
        assert await _versions(postgres_database, uuid.UUID(snippet["id"])) == [(1, "v1"), (2, winners[0]["body"])]
