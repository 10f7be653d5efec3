"""Per-user rate limits in fixed one-minute windows, counted in the database.

The count lives in ``rate_limits`` so that every replica sees the same one. An upsert
(``ON CONFLICT DO UPDATE SET count = count + n RETURNING count``) adds calls and reads the
total, atomically, on both databases, in its own short transaction: refused and failing
calls count too, and no row lock is held while a tool runs. The first write of a new
window also deletes the user's older windows, so the table holds at most one row per user
and bucket for long.

What a call waits for (an upsert per call cost a fifth of the server's CPU under load):

- the first call of a user's bucket in a window, and every call once the count this
  process knows reaches half the limit, waits for its upsert and is decided on the total
  it returns, exactly as before;
- below half the limit, a call is counted in memory and allowed at once; every user's
  calls of the next ``WRITE_BEHIND_SECONDS`` are written together, by one statement
  behind them (one per user was still one transaction per call when each of many users
  calls about once a second).

On one replica every decision is therefore exact: the process knows every call it counted.
Across replicas, what one process knows of the others' calls lags by at most
``WRITE_BEHIND_SECONDS``, and only below half the limit, where nobody is refused. Pending
counts are written before the process exits (:meth:`RateLimiter.close`).

On Postgres the rows of many users are written through ``app.count_calls`` (migration
0008): the MCP role's policy confines a transaction to its own user's rows, and the
function, SECURITY DEFINER, only adds counts. Buckets are ``read`` and ``write``
(``mcpserver.tools.TOOL_BUCKETS``); the limits come from the settings. Not in shared/: the
counters are per user (``rate_limits.user_id`` is a foreign key to users), which the
authorization server, throttling by address and account before anyone is signed in,
cannot use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ARRAY, DateTime, Integer, String, Uuid, bindparam, delete, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import user_transaction
from shared.models import RateLimit

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
WRITE_BEHIND_SECONDS = 1.0
"""How long calls below half the limit wait in memory to be written together."""

_Key = tuple[uuid.UUID, str, float]  # user, bucket, window start

_COUNT_CALLS = text(
    "select user_id, bucket, window_start, count from app.count_calls(:users, :buckets, :windows, :calls)"
).bindparams(
    bindparam("users", type_=ARRAY(Uuid())),
    bindparam("buckets", type_=ARRAY(String())),
    bindparam("windows", type_=ARRAY(DateTime(timezone=True))),
    bindparam("calls", type_=ARRAY(Integer())),
)
"""Postgres: every key's calls added by one statement (migration 0008), the new totals returned."""


@dataclass
class _Count:
    known: int = 0  # the total the database returned last
    pending: int = 0  # counted here, not written yet
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one upsert at a time per window


class RateLimiter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limits: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.time,
        write_behind_seconds: float = WRITE_BEHIND_SECONDS,
    ):
        self._sessions = sessions
        self.limits = dict(limits)
        self._clock = clock
        self._delay = write_behind_seconds
        self._counts: dict[_Key, _Count] = {}
        self._window = 0.0
        self._writer: asyncio.Task[None] | None = None  # the write-behind, waiting or under way
        self._closing = asyncio.Event()

    async def hit(self, user_id: uuid.UUID, bucket: str) -> int | None:
        """Count one call; None if it is allowed, else the seconds until the window ends."""
        now = self._clock()
        start = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        limit = self.limits[bucket]
        key = (user_id, bucket, start)
        count = self._counts.get(key)
        if count is None:
            if start != self._window:
                self._window = start
                self._forget_before(start)
            count = self._counts[key] = _Count()
        if count.known > 0 and 2 * (count.known + count.pending + 1) <= limit:
            # Far below the limit: allowed; written with everybody's other calls of the next moment.
            count.pending += 1
            if self._writer is None:
                self._writer = asyncio.get_running_loop().create_task(self._write_behind())
            return None
        # This call's place in the database's count (after the calls allowed here before it).
        if await self._write(key, count) <= limit:
            return None
        return max(1, math.ceil(start + WINDOW_SECONDS - now))

    async def close(self) -> None:
        """Write every pending count now (at shutdown)."""
        self._closing.set()
        if self._writer is not None:
            await asyncio.wait([self._writer])
        await self._write_pending()

    async def _write_behind(self) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._delay)
            await self._write_pending()
        finally:
            self._writer = None

    async def _write_pending(self) -> None:
        """Write every window's pending calls, all in one statement; on failure they stay counted
        here, to be written next time."""
        counts = {key: count for key, count in self._counts.items() if count.pending}
        if not counts:
            return
        calls = {key: count.pending for key, count in counts.items()}
        for count in counts.values():
            count.pending = 0
        try:
            totals = await self._add(calls)
        except BaseException as exc:
            for key, count in counts.items():
                count.pending += calls[key]
            if not isinstance(exc, Exception):
                raise
            logger.warning("mcp.rate_limit_write_failed", exc_info=True)
            return
        for key, count in counts.items():
            count.known = max(count.known, totals.get(key, 0))

    async def _write(self, key: _Key, count: _Count) -> int:
        """Add this call and the window's pending ones to its row; its new total."""
        async with count.lock:
            calls, count.pending = count.pending + 1, 0
            try:
                total = (await self._add({key: calls})).get(key, 0)
            except BaseException:
                count.pending += calls - 1
                raise
            count.known = max(count.known, total)
            return total

    async def _add(self, calls: dict[_Key, int]) -> dict[_Key, int]:
        """Add each window's calls to its row (a new window first deletes the user's older ones); the new
        totals, in one transaction."""
        keys = sorted(calls)  # rows locked in one order by every writer
        async with user_transaction(self._sessions, None) as session:
            if session.get_bind().dialect.name == "postgresql":
                rows = await session.execute(
                    _COUNT_CALLS,
                    {
                        "users": [k[0] for k in keys],
                        "buckets": [k[1] for k in keys],
                        "windows": [_when(k[2]) for k in keys],
                        "calls": [calls[k] for k in keys],
                    },
                )
                return {(u, b, w.timestamp()): total for u, b, w, total in rows}
            return {key: await _add_one(session, key, calls[key]) for key in keys}

    def _forget_before(self, start: float) -> None:
        """Drop the counts of ended windows (their calls no longer decide anything)."""
        for key in [k for k in self._counts if k[2] < start]:
            del self._counts[key]


def _when(start: float) -> datetime:
    return datetime.fromtimestamp(start, UTC)


async def _add_one(session: AsyncSession, key: _Key, calls: int) -> int:
    """SQLite (no policies, one writer at a time): the window's row upserted directly; the new total."""
    user_id, bucket, start = key
    window = _when(start)
    statement = sqlite.insert(RateLimit).values(user_id=user_id, bucket=bucket, window_start=window, count=calls)
    total = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[RateLimit.user_id, RateLimit.bucket, RateLimit.window_start],
            set_={"count": RateLimit.count + calls},
        ).returning(RateLimit.count)
    )
    if total == calls:
        await session.execute(
            delete(RateLimit).where(
                RateLimit.user_id == user_id, RateLimit.bucket == bucket, RateLimit.window_start < window
            )
        )
    return int(total or 0)
