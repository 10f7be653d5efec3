"""Per-user rate limits in fixed one-minute windows, counted in the database.

The count lives in ``rate_limits`` so that every replica sees the same one. One upsert
(``ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count``) counts a call and
reads the total, atomically, on both databases. It runs in its own short transaction
before the call: refused and failing calls count too, and no row lock is held while a
tool runs. The first call of a new window also deletes the user's older windows, so the
table holds at most one row per user and bucket for long.

Buckets are ``read`` and ``write`` (``mcpserver.tools.TOOL_BUCKETS``); the limits come
from the settings. Not in shared/: the counters are per user (``rate_limits.user_id``
is a foreign key to users), which the authorization server, throttling by address and
account before anyone is signed in, cannot use.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import user_transaction
from shared.models import RateLimit

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        limits: Mapping[str, int],
        *,
        clock: Callable[[], float] = time.time,
    ):
        self._sessions = sessions
        self.limits = dict(limits)
        self._clock = clock

    async def hit(self, user_id: uuid.UUID, bucket: str) -> int | None:
        """Count one call; None if it is allowed, else the seconds until the window ends."""
        now = self._clock()
        start = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS
        window = datetime.fromtimestamp(start, UTC)
        async with user_transaction(self._sessions, str(user_id)) as session:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            statement = insert(RateLimit).values(user_id=user_id, bucket=bucket, window_start=window, count=1)
            count = await session.scalar(
                statement.on_conflict_do_update(
                    index_elements=[RateLimit.user_id, RateLimit.bucket, RateLimit.window_start],
                    set_={"count": RateLimit.count + 1},
                ).returning(RateLimit.count)
            )
            if count == 1:
                await session.execute(
                    delete(RateLimit).where(
                        RateLimit.user_id == user_id, RateLimit.bucket == bucket, RateLimit.window_start < window
                    )
                )
        if (count or 0) <= self.limits[bucket]:
            return None
        return max(1, math.ceil(start + WINDOW_SECONDS - now))
