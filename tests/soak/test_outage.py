"""A database that does not answer: both servers say "unavailable, retry" cleanly, and recover.

Postgres: the test's own cluster, stopped in immediate mode while both servers run; a row
lock held past ``db_statement_timeout``. SQLite: another process holding the write lock
past the busy timeout. The MCP server answers a tool call with an "unavailable: … retry"
tool error (the revocation state of the token is cached), a request whose token it must
first check against the database with 503 and ``Retry-After``; the authorization server
answers its JSON endpoints with OAuth's ``temporarily_unavailable`` and its pages with a
page, both 503 with ``Retry-After``. Never a 500, never a traceback.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import Database
from tests.soak.cluster import Cluster, cluster_database, postgres_cluster
from tests.soak.servers import two_server_stack
from tests.soak.traffic import Recorder, Topology, Traffic, User
from tests.stack import Stack

SETTINGS = {
    "SKILLS_REVOCATION_CHECK_SECONDS": "600",  # a signed-in client's token state stays cached
    "SKILLS_DB_STATEMENT_TIMEOUT": "1",
    "SKILLS_DB_POOL_TIMEOUT": "2",
}


def _traffic(stack: Stack, http: httpx.AsyncClient) -> Traffic:
    topology = Topology(stack.issuer, stack.resource, {"auth": stack.issuer}, {"mcp": stack.resource[: -len("/mcp")]})
    topology.mcp_up = {"mcp"}
    return Traffic(topology, Recorder(), http)


async def _signed_in(traffic: Traffic, stack: Stack, name: str) -> User:
    user = User(name, stack.email, stack.password)
    assert await traffic.register(user)
    assert await traffic.login(user) == "ok", traffic.recorder.attempts[-3:]
    return user


async def _workspace(traffic: Traffic, user: User) -> str:
    kind, workspace = await traffic.call(user, "setup", "create_workspace", {"name": "Outages"})
    assert kind == "ok", workspace
    return str(workspace["id"])


def _assert_unavailable(response: httpx.Response, content_type: str = "application/json") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"].startswith(content_type)
    assert "Traceback" not in response.text


async def _eventually_ok(traffic: Traffic, user: User, within: float = 20) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        kind, _ = await traffic.call(user, "probe", "list_workspaces", {})
        if kind == "ok":
            return time.monotonic() - started
        await asyncio.sleep(0.2)
    raise AssertionError(f"still failing {within} s after the database returned: {traffic.recorder.attempts[-1]}")


@pytest.fixture(scope="module")
def postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Stack]]:
    with postgres_cluster() as pg:
        database = cluster_database(pg, tmp_path_factory.mktemp("outage-postgres"))
        with two_server_stack(database, SETTINGS, database.data_dir) as stack:
            yield pg, stack


async def test_a_statement_past_its_timeout_is_an_unavailable_tool_error(postgres_stack: tuple[Cluster, Stack]) -> None:
    _, stack = postgres_stack
    async with httpx.AsyncClient(timeout=30) as http:
        traffic = _traffic(stack, http)
        ada = await _signed_in(traffic, stack, "ada")
        workspace_id = await _workspace(traffic, ada)
        kind, snippet = await traffic.call(
            ada, "setup", "save_snippet", {"workspace_id": workspace_id, "title": "Locked", "body": "v1"}
        )
        assert kind == "ok", snippet
        engine = create_engine(make_url(stack.env["SKILLS_DATABASE_URL"]).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            conn.execute(text("select 1 from snippets where id = :id for update"), {"id": snippet["id"]})
            kind, answer = await traffic.call(ada, "save", "save_snippet", {"id": snippet["id"], "body": "v2"})
            conn.rollback()
        engine.dispose()
        assert kind == "tool_unavailable", answer
        assert "retry in" in answer
        kind, answer = await traffic.call(ada, "save", "save_snippet", {"id": snippet["id"], "body": "v2"})
        assert kind == "ok" and answer["version"] == 2, answer


async def test_postgres_down_gets_clean_retryable_errors_and_service_returns(
    postgres_stack: tuple[Cluster, Stack],
) -> None:
    pg, stack = postgres_stack
    async with httpx.AsyncClient(timeout=30) as http:
        traffic = _traffic(stack, http)
        warm = await _signed_in(traffic, stack, "warm")
        assert (await traffic.call(warm, "probe", "list_workspaces", {}))[0] == "ok"  # caches its token's state
        cold = await _signed_in(traffic, stack, "cold")
        pg.stop("immediate")
        try:
            kind, answer = await traffic.call(warm, "read", "list_workspaces", {})
            assert kind == "tool_unavailable", answer
            assert answer.startswith("unavailable:") and "retry in" in answer
            listed = await _rpc(http, stack, warm, "resources/list", {})
            assert listed["error"]["code"] == -32030, listed
            assert listed["error"]["data"]["retryAfterSeconds"] > 0

            gate = await http.post(
                stack.resource, json=_call("list_workspaces"), headers=_headers(cold), follow_redirects=False
            )
            _assert_unavailable(gate)
            assert gate.json()["error"] == "temporarily_unavailable"

            form = {"grant_type": "refresh_token", "refresh_token": warm.refresh, "client_id": warm.client_id}
            token = await http.post(f"{stack.issuer}/token", data=form)
            _assert_unavailable(token)
            assert token.json()["error"] == "temporarily_unavailable"
            registered = await http.post(
                f"{stack.issuer}/register", json={"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "x"}
            )
            _assert_unavailable(registered)
            page = await http.get(
                f"{stack.issuer}/authorize",
                params={
                    "client_id": warm.client_id,
                    "response_type": "code",
                    "redirect_uri": "http://127.0.0.1:1/callback",
                },
            )
            _assert_unavailable(page, "text/html")
            assert "unavailable" in page.text.lower()
        finally:
            pg.start()
        await _eventually_ok(traffic, warm)
        await _eventually_ok(traffic, cold)
        assert await traffic.refresh_tokens(warm) == "ok"


def _call(tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments or {}}}


def _headers(user: User) -> dict[str, str]:
    return {
        "Accept": "application/json, text/event-stream",
        "Mcp-Protocol-Version": "2025-11-25",
        "Authorization": f"Bearer {user.access}",
    }


async def _rpc(http: httpx.AsyncClient, stack: Stack, user: User, method: str, params: dict[str, Any]) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    response = await http.post(stack.resource, json=body, headers=_headers(user))
    assert response.status_code == 200, response.text
    return response.json()


async def test_sqlite_locked_past_the_busy_timeout_gets_clean_retryable_errors(tmp_path: Path) -> None:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path)}, tmp_path)
    with two_server_stack(database, {"SKILLS_REVOCATION_CHECK_SECONDS": "600"}, tmp_path) as stack:
        async with httpx.AsyncClient(timeout=30) as http:
            traffic = _traffic(stack, http)
            ada = await _signed_in(traffic, stack, "ada")
            workspace_id = await _workspace(traffic, ada)
            locker = sqlite3.connect(tmp_path / "skills.db", isolation_level=None)
            locker.execute("begin exclusive")
            try:
                save = {"workspace_id": workspace_id, "title": "Blocked", "body": "text"}
                kind, answer = await traffic.call(ada, "save", "save_snippet", save)
                assert kind == "tool_unavailable", answer
                form = {"grant_type": "refresh_token", "refresh_token": ada.refresh, "client_id": ada.client_id}
                _assert_unavailable(await http.post(f"{stack.issuer}/token", data=form))
            finally:
                locker.rollback()
                locker.close()
            kind, answer = await traffic.call(ada, "save", "save_snippet", save)
            assert kind == "ok", answer
            assert await traffic.refresh_tokens(ada) == "ok"


@pytest.fixture(scope="module")
def patient_postgres_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """No statement or lock timeout: only the request timeout stands between a lock wait and a hang.
    One pooled connection per process: a second request waits for it at most the pool timeout."""
    settings = {
        "SKILLS_REVOCATION_CHECK_SECONDS": "600",
        "SKILLS_DB_STATEMENT_TIMEOUT": "0",
        "SKILLS_DB_LOCK_TIMEOUT": "0",
        "SKILLS_REQUEST_TIMEOUT": "3",
        "SKILLS_DB_POOL_SIZE": "1",
        "SKILLS_DB_POOL_OVERFLOW": "0",
        "SKILLS_DB_POOL_TIMEOUT": "0.5",
    }
    with postgres_cluster() as pg:
        database = cluster_database(pg, tmp_path_factory.mktemp("outage-timeouts"))
        with two_server_stack(database, settings, database.data_dir) as stack:
            yield stack


async def test_a_request_past_the_request_timeout_is_answered_not_left_hanging(patient_postgres_stack: Stack) -> None:
    stack = patient_postgres_stack
    async with httpx.AsyncClient(timeout=30) as http:
        traffic = _traffic(stack, http)
        ada = await _signed_in(traffic, stack, "ada")
        workspace_id = await _workspace(traffic, ada)
        kind, snippet = await traffic.call(
            ada, "setup", "save_snippet", {"workspace_id": workspace_id, "title": "Held", "body": "v1"}
        )
        assert kind == "ok", snippet
        engine = create_engine(make_url(stack.env["SKILLS_DATABASE_URL"]).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            conn.execute(text("select 1 from snippets where id = :id for update"), {"id": snippet["id"]})
            conn.execute(text("select 1 from refresh_tokens where client_id = :c for update"), {"c": ada.client_id})
            blocked = asyncio.create_task(
                traffic.call(ada, "save", "save_snippet", {"id": snippet["id"], "body": "v2"})
            )
            await asyncio.sleep(1)  # the save holds the only pooled connection, waiting for the lock
            kind, answer = await traffic.call(ada, "read", "list_workspaces", {})
            assert kind == "tool_unavailable", answer  # no connection within the pool timeout (tried twice)
            kind, answer = await blocked
            assert kind == "tool_unavailable", answer  # the request timeout ended the lock wait
            form = {"grant_type": "refresh_token", "refresh_token": ada.refresh, "client_id": ada.client_id}
            token = await http.post(f"{stack.issuer}/token", data=form)
            _assert_unavailable(token)
            assert token.json()["error"] == "temporarily_unavailable"
            conn.rollback()
        engine.dispose()
        kind, answer = await traffic.call(ada, "save", "save_snippet", {"id": snippet["id"], "body": "v2"})
        assert kind == "ok" and answer["version"] == 2, answer
