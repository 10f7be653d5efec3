"""Counters that slow down guessing: failed logins per account and per address, registrations per address.

Each key (``account:<email>``, ``addr:<ip>``, ``register:<ip>``) counts events in a fixed
window that starts at its first event. The counters live in the ``login_throttle`` table and
change with one atomic upsert, so every process and replica sees the same counts and two
concurrent events are both counted (on SQLite and on Postgres).

A key that reached its limit is refused until its window ends, then starts afresh: nobody,
attacker included, can lock an account for longer than one window per burst of failures.
Values that could be long (an email typed into the form) are hashed into the key.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.models import LoginThrottle, utcnow

MAX_PLAIN_VALUE = 200


@dataclass(frozen=True)
class Decision:
    """Whether the event may go ahead; if not, how many seconds until it may (``Retry-After``).

    ``counted``: the events in the key's current window (0 when nothing is counted: no reset needed).
    """

    allowed: bool
    retry_after_seconds: int = 0
    counted: int = 0


ALLOWED = Decision(True)


def throttle_key(kind: str, value: str) -> str:
    """``kind:value``; a long value is replaced by its SHA-256 so the key fits its column."""
    value = value.strip().lower()
    if len(value) > MAX_PLAIN_VALUE:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{value}"


def _seconds_until(end: datetime, now: datetime) -> int:
    return max(1, math.ceil((end - now).total_seconds()))


def check(db: Session, key: str, limit: int, window: timedelta, now: datetime | None = None) -> Decision:
    """Whether ``key`` is below ``limit`` events in its current window (counts nothing)."""
    return check_all(db, [(key, limit)], window, now)[0]


def check_all(
    db: Session, limits: Sequence[tuple[str, int]], window: timedelta, now: datetime | None = None
) -> list[Decision]:
    """:func:`check` for several ``(key, limit)`` pairs in one statement (a login checks two), in their order."""
    now = now or utcnow()
    table = cast(Table, LoginThrottle.__table__).c  # plain Core columns: no ORM layer for a login's hottest read
    rows = db.execute(
        select(table.key, table.window_start, table.failures).where(table.key.in_([key for key, _ in limits]))
    ).all()
    current = {row.key: row for row in rows if row.window_start + window > now}
    decisions = []
    for key, limit in limits:
        row = current.get(key)
        if row is None:
            decisions.append(ALLOWED)
        elif row.failures < limit:
            decisions.append(Decision(True, counted=row.failures))
        else:
            decisions.append(Decision(False, _seconds_until(row.window_start + window, now), row.failures))
    return decisions


def hit(db: Session, key: str, limit: int, window: timedelta, now: datetime | None = None) -> Decision:
    """Count one event for ``key``; allowed while the window holds at most ``limit`` events.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: the database serialises concurrent hits.
    """
    now = now or utcnow()
    expired = LoginThrottle.window_start <= now - window
    started = literal(now, LoginThrottle.window_start.type)
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert(LoginThrottle) if dialect == "postgresql" else sqlite.insert(LoginThrottle)
    statement = (
        insert.values(key=key, window_start=now, failures=1, blocked_until=None)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.key],
            set_={
                "failures": case((expired, 1), else_=LoginThrottle.failures + 1),
                "window_start": case((expired, started), else_=LoginThrottle.window_start),
            },
        )
        .returning(LoginThrottle.failures, LoginThrottle.window_start)
    )
    failures, window_start = db.execute(statement).one()
    if failures <= limit:
        return Decision(True, counted=failures)
    return Decision(False, _seconds_until(window_start + window, now), failures)


def reset(db: Session, key: str) -> None:
    """Forget ``key``'s count (a successful login clears its account's failures)."""
    db.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def prune(db: Session, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete counters whose window started before ``now - older_than``; returns how many."""
    cutoff = (now or utcnow()) - older_than
    result = db.execute(delete(LoginThrottle).where(LoginThrottle.window_start < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
