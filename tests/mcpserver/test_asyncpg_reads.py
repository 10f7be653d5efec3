"""The hot reads on the asyncpg connection (``mcpserver.repository.asyncpg_reads``), Postgres only.

Their transaction is confined like a session's: read only, ``app.user_id`` set for the RLS
policies, named after the request id; a connection lost under it is "unavailable", and the
tools read through it (``list_snippets`` and ``get_snippet`` wait for a lock on ``snippets``
named after their request id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from mcpserver.database import make_mcp_engine
from mcpserver.errors import Unavailable
from mcpserver.repository.asyncpg_reads import read_transaction
from shared.models import Snippet
from tests.conftest import Database
from tests.e2e.stacks import eventually
from tests.mcpserver.harness import McpHarness, call, mcp_harness, text_of


@pytest.fixture
def harness(postgres_database: Database) -> Iterator[McpHarness]:
    with mcp_harness(postgres_database) as running:
        yield running


@pytest.fixture
def superuser(harness: McpHarness) -> Iterator[Engine]:
    engine = create_engine(make_url(harness.settings.admin_database_url).set(drivername="postgresql+psycopg"))
    yield engine
    engine.dispose()


@asynccontextmanager
async def mcp_engine(harness: McpHarness) -> AsyncIterator[AsyncEngine]:
    engine = make_mcp_engine(harness.settings)
    try:
        yield engine
    finally:
        await engine.dispose()


SETTINGS = select(
    func.current_setting("app.user_id"),
    func.current_setting("application_name"),
    func.current_setting("transaction_read_only"),
)


async def test_the_transaction_is_read_only_for_the_user_and_named_after_the_request(harness: McpHarness) -> None:
    user = uuid.uuid4()
    async with mcp_engine(harness) as engine:
        async with read_transaction(engine, user, "req-'quoted'.1") as reads:
            assert await reads.rows(SETTINGS, {}) == [(str(user), "req-'quoted'.1", "on")]
        async with read_transaction(engine, user, None) as reads:  # transaction-local: the name is gone
            [(_, name, _)] = await reads.rows(SETTINGS, {})
        assert name != "req-'quoted'.1"


async def test_rls_confines_the_transaction_to_what_its_user_may_read(harness: McpHarness) -> None:
    owner, stranger = harness.add_user("owner@example.com"), harness.add_user("stranger@example.com")
    async with harness.client(owner) as client:
        workspace = await call(client, "create_workspace", name="Team")
        shared = await call(client, "save_snippet", workspace_id=workspace["id"], title="Shared", body="b")
    everything = select(Snippet.id)  # no filter of our own: only the policies decide
    async with mcp_engine(harness) as engine:
        async with read_transaction(engine, owner, None) as reads:
            assert await reads.rows(everything, {}) == [(uuid.UUID(shared["id"]),)]
        async with read_transaction(engine, stranger, None) as reads:
            assert await reads.rows(everything, {}) == []


async def test_a_connection_lost_under_a_read_is_unavailable_and_the_next_read_runs(
    harness: McpHarness, superuser: Engine
) -> None:
    user = uuid.uuid4()
    async with mcp_engine(harness) as engine:
        with pytest.raises(Unavailable):
            async with read_transaction(engine, user, None) as reads:
                [(pid,)] = await reads.rows(select(func.pg_backend_pid()), {})
                with superuser.connect() as conn:
                    conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
                await asyncio.sleep(0.2)
                await reads.rows(SETTINGS, {})
        async with read_transaction(engine, user, None) as reads:
            assert (await reads.rows(SETTINGS, {}))[0][0] == str(user)


async def test_list_and_get_snippet_run_named_after_their_request_id(harness: McpHarness, superuser: Engine) -> None:
    owner = harness.add_user("owner@example.com")
    async with harness.client(owner) as client:
        workspace = await call(client, "create_workspace", name="Team")
        saved = await call(client, "save_snippet", workspace_id=workspace["id"], title="Locked", body="b")
    headers = {"Authorization": f"Bearer {harness.token(owner)}"}
    for tool, arguments in [
        ("list_snippets", {}),
        ("get_snippet", {"id": saved["id"]}),
        ("get_snippet", {"workspace_id": workspace["id"], "slug": saved["slug"]}),
    ]:
        request_id = f"{tool}-{len(arguments)}-{uuid.uuid4().hex[:8]}"
        async with httpx2.AsyncClient(headers={**headers, "X-Request-Id": request_id}, timeout=30) as http:
            async with Client(streamable_http_client(harness.resource, http_client=http), mode="legacy") as client:
                with superuser.connect() as holder:
                    holder.execute(text("lock table snippets in access exclusive mode"))
                    answer = asyncio.ensure_future(client.call_tool(tool, arguments))
                    assert await eventually(_waiting_as(superuser, request_id), within=20)
                    holder.rollback()
                result = await answer
        assert not result.is_error, result.content


async def test_reads_recover_when_postgres_drops_every_connection(harness: McpHarness, superuser: Engine) -> None:
    owner = harness.add_user("owner@example.com")
    async with harness.client(owner) as client:
        workspace = await call(client, "create_workspace", name="Team")
        saved = await call(client, "save_snippet", workspace_id=workspace["id"], title="Kept", body="b")
        with superuser.connect() as conn:
            conn.execute(
                text("select pg_terminate_backend(pid) from pg_stat_activity where usename = :role"),
                {"role": harness.settings.db_mcp_role},
            )
        await asyncio.sleep(0.2)
        # A call may still meet a closed connection before its read (the rate limit's count) and
        # answer "unavailable"; the one after it finds the pool renewed.
        first = await client.call_tool("list_snippets", {})
        assert not first.is_error or text_of(first).startswith("unavailable:"), text_of(first)
        assert [s["id"] for s in (await call(client, "list_snippets"))["snippets"]] == [saved["id"]]
        assert (await call(client, "get_snippet", id=saved["id"]))["body"] == "b"


def _waiting_as(superuser: Engine, request_id: str) -> Callable[[], Awaitable[bool | None]]:
    async def probe() -> bool | None:
        with superuser.connect() as observer:
            named = text("select 1 from pg_stat_activity where application_name = :id and wait_event_type = 'Lock'")
            return True if observer.execute(named, {"id": request_id}).scalar() else None

    return probe
