"""Per-user rate limits per bucket, counted in the database (so across replicas), with a retry time."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from mcp.shared.exceptions import MCPError
from sqlalchemy import func, select

from mcpserver.database import make_mcp_engine
from mcpserver.ratelimit import RateLimiter
from shared.db import async_session_factory, make_engine
from shared.models import RateLimit
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, fails, mcp_harness

WRITES, READS = 3, 6


@pytest.fixture
def limited(database: Database) -> Iterator[McpHarness]:
    with mcp_harness(database, rate_limit_writes_per_minute=WRITES, rate_limit_reads_per_minute=READS) as running:
        yield running


def start_of_a_fresh_minute() -> None:
    """Counting windows are whole minutes: do not let a test straddle two."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.1)


async def test_writes_over_the_limit_get_a_tool_error_with_the_retry_time(limited: McpHarness) -> None:
    ada, bob = limited.add_user("ada@example.com"), limited.add_user("bob@example.com")
    start_of_a_fresh_minute()
    async with limited.client(ada) as client:
        ws = (await call(client, "create_workspace", name="W"))["id"]  # write 1
        for i in range(WRITES - 1):
            await call(client, "save_snippet", workspace_id=ws, title=f"t{i}", body="b")
        error = await fails(client, "save_snippet", workspace_id=ws, title="one too many", body="b")
        match = re.search(r"rate limited: at most 3 write calls per minute; retry in (\d+) s", error)
        assert match, error
        assert 1 <= int(match.group(1)) <= 60
        # Reads have their own bucket.
        assert len((await call(client, "list_snippets"))["snippets"]) == WRITES - 1
    async with limited.client(bob) as client:  # and every user their own count
        await call(client, "create_workspace", name="Bob's")


async def test_the_count_is_shared_by_every_replica(limited: McpHarness) -> None:
    ada = limited.add_user("ada@example.com")
    start_of_a_fresh_minute()
    async with limited.client(ada) as client:
        for i in range(WRITES):
            await call(client, "create_workspace", name=f"W{i}")
    with limited.replica() as replica:
        async with replica.client(ada) as client:
            assert "rate limited" in await fails(client, "create_workspace", name="elsewhere")


async def test_resource_reads_over_the_limit_get_a_protocol_error_with_the_retry_time(limited: McpHarness) -> None:
    ada = limited.add_user("ada@example.com")
    start_of_a_fresh_minute()
    async with limited.client(ada) as client:
        for _ in range(READS):
            await client.list_resources()
        with pytest.raises(MCPError) as refused:
            await client.list_resources()
    assert refused.value.code == -32029
    assert "rate limited" in refused.value.message
    assert 1 <= refused.value.data["retryAfterSeconds"] <= 60


async def test_windows_roll_over_and_old_ones_are_cleared(database: Database) -> None:
    """The limiter alone, on the real database, with its clock set by the test."""
    with mcp_harness(database) as harness:
        ada = harness.add_user("ada@example.com")
        now = [1_800_000_000.0]  # the start of a minute
        engine = make_mcp_engine(harness.settings)
        limiter = RateLimiter(async_session_factory(engine), {"write": 2}, clock=lambda: now[0])
        try:
            assert [await limiter.hit(ada, "write") for _ in range(3)] == [None, None, 60]
            now[0] += 45.5
            assert await limiter.hit(ada, "write") == 15
            now[0] += 15  # the next window
            assert await limiter.hit(ada, "write") is None
        finally:
            await engine.dispose()
        admin = make_engine(harness.settings.admin_database_url)
        try:
            with admin.connect() as conn:
                assert conn.scalar(select(func.count()).select_from(RateLimit)) == 1  # the old window is gone
        finally:
            admin.dispose()
