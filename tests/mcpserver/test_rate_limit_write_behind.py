"""The limiter counts below half the limit in memory and writes behind: decisions stay exact on one
replica, every call reaches the database, and another replica sees the count."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from mcpserver.database import make_mcp_engine
from mcpserver.ratelimit import RateLimiter
from shared.db import async_session_factory, make_engine
from shared.models import RateLimit
from tests.conftest import Database
from tests.mcpserver.harness import mcp_harness

START = 1_800_000_000.0  # the start of a minute


async def test_exact_decisions_and_every_call_written(database: Database) -> None:
    with mcp_harness(database) as harness:
        ada = harness.add_user("ada@example.com")
        engine = make_mcp_engine(harness.settings)
        now = [START]
        one = RateLimiter(async_session_factory(engine), {"read": 10}, clock=lambda: now[0])
        other = RateLimiter(async_session_factory(engine), {"read": 10}, clock=lambda: now[0])
        try:
            # Concurrent calls, as a busy client makes them: exactly the limit gets through.
            answers = await asyncio.gather(*(one.hit(ada, "read") for _ in range(14)))
            assert answers.count(None) == 10
            assert all(a == 60 for a in answers if a is not None)
            await one.close()
            # Another replica (a process that has counted nothing) sees them all.
            assert await other.hit(ada, "read") == 60
            now[0] += 60  # the next window starts from zero, in both
            assert [await one.hit(ada, "read") for _ in range(10)] == [None] * 10
            assert await one.hit(ada, "read") == 60
            await one.close()
        finally:
            await engine.dispose()
        admin = make_engine(harness.settings.admin_database_url)
        try:
            with admin.connect() as conn:
                rows = conn.execute(select(RateLimit.window_start, RateLimit.count)).all()
        finally:
            admin.dispose()
        assert [count for _, count in rows] == [11]  # every call of the new window; the old window deleted
