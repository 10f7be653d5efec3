"""The request id follows a call: from the client's header into both servers' logs and the database.

Both servers run as real processes (their JSON logs go to files); the real MCP client signs
in and calls tools with an ``X-Request-Id`` of its own. On Postgres the test holds a lock the
call needs and reads ``pg_stat_activity`` while the call waits on it: the database session
working for the call is named after the request id.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from shared.request_ids import accepted_or_new
from tests.conftest import Database
from tests.e2e.stacks import eventually
from tests.stack import SignIn, Stack, oauth_http_client, running_stack

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def stack(database: Database) -> Iterator[Stack]:
    with running_stack(database) as running:
        yield running


def log_records(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a server's log file (lines that are not JSON are skipped)."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


async def records_with(path: Path, request_id: str, **expected: str) -> list[dict[str, Any]]:
    """The records of ``request_id``, once one has the ``expected`` fields (polled: logs arrive as written)."""

    async def probe() -> list[dict[str, Any]] | None:
        mine = [r for r in log_records(path) if r.get("request_id") == request_id]
        return mine if any(expected.items() <= r.items() for r in mine) else None

    return await eventually(probe)


def test_well_formed_ids_are_kept_and_others_replaced() -> None:
    for kept in ("5f0c2a1e-9b7d-4c1e-8f00-1234567890ab", "req.42:retry_1", "x" * 63):
        assert accepted_or_new(kept) == kept
    for replaced in (None, "", "x" * 64, "has space", 'quote"d', "line\nbreak", "ünïcode", "a;b"):
        assert GENERATED.fullmatch(accepted_or_new(replaced))


async def test_the_client_request_id_is_answered_and_in_both_servers_logs(stack: Stack, database: Database) -> None:
    request_id = "client-trace-7f3e21"
    answered: list[str] = []

    async def remember(response: httpx2.Response) -> None:
        if response.url.path == "/mcp":
            answered.append(response.headers.get("x-request-id", ""))

    sign_in = SignIn(stack)
    async with oauth_http_client(stack, sign_in) as http:
        http.headers["X-Request-Id"] = request_id
        http.event_hooks["response"].append(remember)
        async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
            created = await client.call_tool("create_workspace", {"name": "Traced"})
            assert not created.is_error, created.content

    assert answered and set(answered) == {request_id}
    mcp_log = database.data_dir / "mcpserver.log"
    mine = await records_with(mcp_log, request_id, msg="mcp.call", target="create_workspace")
    call = next(r for r in mine if r.get("target") == "create_workspace")
    assert call["method"] == "tools/call" and call["outcome"] == "ok"
    # uvicorn's access line of the same request carries it too.
    assert any(r["logger"] == "uvicorn.access" and "POST /mcp" in r["msg"] for r in mine), mine
    # The authorization server's lines carry ids of their own (the SDK's OAuth requests send none).
    auth_log = log_records(database.data_dir / "authserver.log")
    token_line = next(r for r in auth_log if r["logger"] == "uvicorn.access" and "POST /token" in r["msg"])
    assert GENERATED.fullmatch(token_line["request_id"])

    # A malformed id is replaced by a fresh one, answered and logged instead.
    response = httpx.get(f"{stack.issuer}/healthz", headers={"X-Request-Id": "two words"})
    fresh = response.headers["x-request-id"]
    assert GENERATED.fullmatch(fresh)
    await records_with(database.data_dir / "authserver.log", fresh, logger="uvicorn.access")
    # Without one, each request gets its own.
    first, second = (httpx.get(f"{stack.issuer}/healthz").headers["x-request-id"] for _ in range(2))
    assert GENERATED.fullmatch(first) and first != second


def waiting_as(superuser: Engine, request_id: str) -> Callable[[], Awaitable[str | None]]:
    """A probe: the database role of the session named ``request_id`` while it waits for a lock."""

    async def probe() -> str | None:
        with superuser.connect() as observer:
            return observer.execute(
                text("select usename from pg_stat_activity where application_name = :id and wait_event_type = 'Lock'"),
                {"id": request_id},
            ).scalar()

    return probe


@pytest.fixture
def postgres_stack(postgres_database: Database) -> Iterator[Stack]:
    with running_stack(postgres_database) as running:
        yield running


async def test_the_database_session_of_a_call_is_named_after_its_request_id(
    postgres_stack: Stack, postgres_database: Database
) -> None:
    stack, request_id = postgres_stack, "lock-wait-4b9d0c"
    mcp_role, auth_role = (postgres_database.env[f"SKILLS_DB_{r}_ROLE"] for r in ("MCP", "AUTH"))
    superuser = create_engine(make_url(postgres_database.admin_url).set(drivername="postgresql+psycopg"))
    sign_in = SignIn(stack)
    try:
        async with oauth_http_client(stack, sign_in) as http:
            async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
                assert not (await client.call_tool("create_workspace", {"name": "Locked"})).is_error
                http.headers["X-Request-Id"] = request_id
                with superuser.connect() as holder:
                    # The call reads workspaces, so it waits for this lock with its session named as the request.
                    holder.execute(text("lock table workspaces in access exclusive mode"))
                    call = asyncio.ensure_future(client.call_tool("list_workspaces", {}))

                    assert await eventually(waiting_as(superuser, request_id), within=20) == mcp_role
                    holder.rollback()
                listed = await call
                assert not listed.is_error, listed.content
                assert [w["name"] for w in (listed.structured_content or {})["workspaces"]] == ["Locked"]
        # Transaction-local: once the call is over, no session keeps the name.
        with superuser.connect() as observer:
            named = text("select count(*) from pg_stat_activity where application_name = :id")
            assert observer.execute(named, {"id": request_id}).scalar_one() == 0

        # The authorization server's transactions too: a registration waits for the clients table.
        registration_id = "register-lock-91ac"
        async with httpx.AsyncClient(timeout=30) as http_client:
            with superuser.connect() as holder:
                holder.execute(text("lock table oauth_clients in access exclusive mode"))
                registered = asyncio.ensure_future(
                    http_client.post(
                        f"{stack.issuer}/register",
                        json={"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"},
                        headers={"X-Request-Id": registration_id},
                    )
                )
                assert await eventually(waiting_as(superuser, registration_id), within=20) == auth_role
                holder.rollback()
            response = await registered
        assert response.status_code == 201, response.text
        assert response.headers["x-request-id"] == registration_id
    finally:
        superuser.dispose()
