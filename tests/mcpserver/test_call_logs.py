"""Structured logs of every authenticated call, shipped to a log endpoint that never slows a request.

A real HTTP receiver on loopback collects what the MCP server ships; the cases where it
is down or hangs show that requests neither fail nor wait for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mcpserver.logshipping import LogShipper
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, fails, mcp_harness
from tests.processes import free_port

BODY_MARKER = "SECRET-BODY-7f3a9c"


@contextmanager
def receiver(*, delay: float = 0.0) -> Iterator[tuple[str, list[dict[str, Any]], list[bytes]]]:
    """An HTTP endpoint on loopback that records every JSON line POSTed to it."""
    records: list[dict[str, Any]] = []
    raw: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay)
            raw.append(body)
            records.extend(json.loads(line) for line in body.decode().splitlines() if line)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/logs", records, raw
    finally:
        server.shutdown()
        server.server_close()


def wait_for(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def _some_calls(harness: McpHarness, user: Any) -> str:
    token = harness.token(user)
    async with harness.client(user, token=token) as client:
        ws = (await call(client, "create_workspace", name="Logged"))["id"]
        await call(client, "save_snippet", workspace_id=ws, title="Logged title", body=f"text {BODY_MARKER}")
        await fails(client, "get_snippet", workspace_id=ws, slug="missing")
        await client.read_resource(f"workspace://{ws}")
    return token


async def test_every_call_is_logged_and_shipped_without_bodies_or_tokens(database: Database) -> None:
    with receiver() as (endpoint, records, raw), mcp_harness(database, log_endpoint=endpoint) as harness:
        ada = harness.add_user("ada@example.com")
        token = await _some_calls(harness, ada)
        wait_for(lambda: sum(r.get("msg") == "mcp.call" for r in records) >= 5)
    calls = [r for r in records if r.get("msg") == "mcp.call"]
    by_target = {(r["method"], r["target"]): r for r in calls}
    saved = by_target[("tools/call", "save_snippet")]
    assert (saved["user"], saved["client"], saved["outcome"]) == (str(ada), "test-client", "ok")
    assert isinstance(saved["latency_ms"], float) and saved["latency_ms"] >= 0
    assert by_target[("tools/call", "get_snippet")]["outcome"] == "tool_error"
    assert ("resources/read", None) not in by_target and any(r["method"] == "resources/read" for r in calls)
    everything = b"".join(raw).decode()
    assert BODY_MARKER not in everything
    assert token not in everything and token.split(".")[2] not in everything


async def test_an_unreachable_or_hanging_log_endpoint_never_slows_a_request(database: Database) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/logs"
    with mcp_harness(database, log_endpoint=nowhere) as harness:
        ada = harness.add_user("ada@example.com")
        started = time.monotonic()
        await _some_calls(harness, ada)
        assert time.monotonic() - started < 5
    with receiver(delay=30) as (endpoint, _, _), mcp_harness(database, log_endpoint=endpoint) as harness:
        bob = harness.add_user("bob@example.com")
        started = time.monotonic()
        await _some_calls(harness, bob)
        assert time.monotonic() - started < 5


def test_the_queue_is_bounded_and_emitting_never_waits() -> None:
    with receiver(delay=30) as (endpoint, _, _):
        shipper = LogShipper(endpoint, capacity=10, interval=0.05, timeout=0.5)
        shipper.start()
        logger = logging.getLogger("tests.shipping")
        logger.addHandler(shipper)
        logger.setLevel(logging.INFO)
        try:
            started = time.monotonic()
            for i in range(1000):
                logger.info("record %d", i)
            assert time.monotonic() - started < 5  # a waiting emit would take the receiver's 30 s
            assert shipper.dropped > 900
        finally:
            logger.removeHandler(shipper)
            shipper.close()


@pytest.fixture
def database(sqlite_database: Database) -> Database:
    """Shipping does not depend on the database: SQLite is enough."""
    return sqlite_database
