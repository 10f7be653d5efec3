"""The limiter counts below half the limit in memory and writes behind: decisions stay exact on one
replica, every call reaches the database, and another replica sees the count."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from mcpserver.database import make_mcp_engine
from mcpserver.ratelimit import RateLimiter
from shared.db import async_session_factory, make_engine
from shared.models import RateLimit
from tests.conftest import Database
from tests.mcpserver.harness import mcp_harness

START = 1_800_000_000.0  # the start of a minute


def _counts(admin_url: str, key: Any) -> list[tuple[Any, int]]:
    """Every ``rate_limits`` row as (``key``, count), read past RLS."""
    admin = make_engine(admin_url)
    try:
        with admin.connect() as conn:
            return [(row[0], row[1]) for row in conn.execute(select(key, RateLimit.count))]
    finally:
        admin.dispose()


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
        rows = _counts(harness.settings.admin_database_url, RateLimit.window_start)
        assert [count for _, count in rows] == [11]  # every call of the new window; the old window deleted


class CountingWrites(RateLimiter):
    """The limiter, counting how many times it writes to the database."""

    writes = 0

    async def _add(self, calls: dict[tuple[uuid.UUID, str, float], int]) -> dict[tuple[uuid.UUID, str, float], int]:
        self.writes += 1
        return await super()._add(calls)


async def test_everybodys_calls_below_half_the_limit_are_written_together(database: Database) -> None:
    with mcp_harness(database) as harness:
        users = [harness.add_user(f"user{i}@example.com") for i in range(5)]
        engine = make_mcp_engine(harness.settings)
        now = [START]
        limiter = CountingWrites(
            async_session_factory(engine), {"read": 100}, clock=lambda: now[0], write_behind_seconds=0.05
        )
        try:
            for user in users:  # each user's first call of the window waits for its own write
                assert await limiter.hit(user, "read") is None
            assert limiter.writes == 5
            for _ in range(3):
                assert [await limiter.hit(user, "read") for user in users] == [None] * 5
            for _ in range(100):  # the write-behind: one write for all of them
                if limiter.writes > 5:
                    break
                await asyncio.sleep(0.02)
            assert limiter.writes == 6
            now[0] += 60  # a new window: its first writes delete the old rows
            assert [await limiter.hit(user, "read") for user in users] == [None] * 5
            await limiter.close()
            assert limiter.writes == 11
        finally:
            await engine.dispose()
        rows = _counts(harness.settings.admin_database_url, RateLimit.user_id)
        assert sorted(rows) == sorted((user, 1) for user in users)


async def test_counts_of_the_old_window_reach_the_database(database: Database) -> None:
    """Calls written behind: before the window moves on, every one of them is in the database."""
    with mcp_harness(database) as harness:
        ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
        engine = make_mcp_engine(harness.settings)
        limiter = CountingWrites(async_session_factory(engine), {"read": 100}, clock=lambda: START + 1)
        try:
            assert [await limiter.hit(u, "read") for u in (ada, bob, ada, bob, ada)] == [None] * 5
            await limiter.close()  # pending calls written at shutdown, together
            assert limiter.writes == 3
        finally:
            await engine.dispose()
        assert dict(_counts(harness.settings.admin_database_url, RateLimit.user_id)) == {ada: 3, bob: 2}
