"""Per-user rate limits in fixed one-minute windows, counted in the database.

The count lives in ``rate_limits`` so that every replica sees the same one. One upsert
(``ON CONFLICT DO UPDATE SET count = count + n RETURNING count``) adds calls and reads the
total, atomically, on both databases, in its own short transaction: refused and failing
calls count too, and no row lock is held while a tool runs. The first write of a new
window also deletes the user's older windows, so the table holds at most one row per user
and bucket for long.

What a call waits for (an upsert per call cost a fifth of the server's CPU under load):

- the first call of a user's bucket in a window, and every call once the count this
  process knows reaches half the limit, waits for its upsert and is decided on the total
  it returns, exactly as before;
- below half the limit, a call is counted in memory and allowed at once; the user's calls
  of the next ``WRITE_BEHIND_SECONDS`` are written together by one upsert behind them.

On one replica every decision is therefore exact: the process knows every call it counted.
Across replicas, what one process knows of the others' calls lags by at most
``WRITE_BEHIND_SECONDS``, and only below half the limit, where nobody is refused. Pending
counts are written before the process exits (:meth:`RateLimiter.close`).

Buckets are ``read`` and ``write`` (``mcpserver.tools.TOOL_BUCKETS``); the limits come
from the settings. Not in shared/: the counters are per user (``rate_limits.user_id``
is a foreign key to users), which the authorization server, throttling by address and
account before anyone is signed in, cannot use.
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

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import user_transaction
from shared.models import RateLimit

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
WRITE_BEHIND_SECONDS = 1.0
"""How long calls below half the limit wait in memory to be written together."""

_Key = tuple[uuid.UUID, str, float]  # user, bucket, window start


@dataclass
class _Count:
    known: int = 0  # the total the database returned last
    pending: int = 0  # counted here, not written yet
    writer: asyncio.Task[None] | None = None  # the write-behind, waiting or under way
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
            # Far below the limit: allowed; written with the user's other calls of the next moment.
            count.pending += 1
            if count.writer is None:
                count.writer = asyncio.get_running_loop().create_task(self._write_behind(key, count))
            return None
        # This call's place in the database's count (after the calls allowed here before it).
        if await self._write(key, count, this_call=True) <= limit:
            return None
        return max(1, math.ceil(start + WINDOW_SECONDS - now))

    async def close(self) -> None:
        """Write every pending count now (at shutdown)."""
        self._closing.set()
        writers = [c.writer for c in self._counts.values() if c.writer is not None]
        if writers:
            await asyncio.wait(writers)

    async def _write_behind(self, key: _Key, count: _Count) -> None:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._delay)
            if count.pending:
                await self._write(key, count)
        except Exception:
            logger.warning("mcp.rate_limit_write_failed", exc_info=True)  # still counted here: written next time
        finally:
            count.writer = None

    async def _write(self, key: _Key, count: _Count, *, this_call: bool = False) -> int:
        """Add the pending calls (and this one) to the window's row; its new total."""
        async with count.lock:
            calls, count.pending = count.pending, 0
            if not calls and not this_call:
                return count.known
            try:
                total = await self._add(key, calls + this_call)
            except BaseException:
                count.pending += calls
                raise
            count.known = max(count.known, total)
            return total

    async def _add(self, key: _Key, calls: int) -> int:
        """Add ``calls`` to the window's row (a new window first deletes the older ones); the new total."""
        user_id, bucket, start = key
        window = datetime.fromtimestamp(start, UTC)
        async with user_transaction(self._sessions, str(user_id)) as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            statement = insert(RateLimit).values(user_id=user_id, bucket=bucket, window_start=window, count=calls)
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

    def _forget_before(self, start: float) -> None:
        """Drop the counts of ended windows (a count that failed to be written no longer matters)."""
        ended = [k for k, c in self._counts.items() if k[2] < start and c.writer is None]
        for k in ended:
            del self._counts[k]
