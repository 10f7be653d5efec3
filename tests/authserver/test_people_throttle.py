"""Throttle counters: fixed windows in the database, atomic across concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from authserver.throttle import check, check_all, hit, reset, throttle_key
from shared.db import transaction
from shared.models import LoginThrottle, utcnow
from tests.authserver.people_db import auth_db_fixture  # noqa: F401 (the auth_db fixture)

WINDOW = timedelta(minutes=15)


def test_limit_is_enforced_until_the_window_ends_then_starts_afresh(auth_db: sessionmaker[Session]) -> None:
    start = utcnow()
    with transaction(auth_db) as db:
        decisions = [hit(db, "account:a@example.com", 3, WINDOW, now=start) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after_seconds == 15 * 60

    later = start + timedelta(minutes=10)
    with transaction(auth_db) as db:
        blocked = check(db, "account:a@example.com", 3, WINDOW, now=later)
    assert not blocked.allowed and blocked.retry_after_seconds == 5 * 60

    after = start + WINDOW + timedelta(seconds=1)
    with transaction(auth_db) as db:
        assert check(db, "account:a@example.com", 3, WINDOW, now=after).allowed
        assert hit(db, "account:a@example.com", 3, WINDOW, now=after).allowed
        row = db.get(LoginThrottle, "account:a@example.com")
        assert row is not None and row.failures == 1 and row.window_start == after


def test_keys_are_independent_and_reset_clears_one(auth_db: sessionmaker[Session]) -> None:
    with transaction(auth_db) as db:
        for _ in range(2):
            hit(db, "addr:192.0.2.1", 1, WINDOW)
        hit(db, "addr:192.0.2.2", 1, WINDOW)
        assert not check(db, "addr:192.0.2.1", 1, WINDOW).allowed
        assert not check(db, "addr:192.0.2.2", 1, WINDOW).allowed  # at the limit: the next is refused
        reset(db, "addr:192.0.2.1")
        assert check(db, "addr:192.0.2.1", 1, WINDOW).allowed
        assert db.scalars(select(LoginThrottle.key)).all() == ["addr:192.0.2.2"]


def test_concurrent_hits_are_all_counted(auth_db: sessionmaker[Session]) -> None:
    """Separate connections (as separate processes would have) never lose an increment."""
    threads, per_thread = 4, 10

    def hammer() -> None:
        for _ in range(per_thread):
            with transaction(auth_db) as db:
                hit(db, "register:198.51.100.7", 1000, WINDOW)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    with auth_db() as db:
        row = db.get(LoginThrottle, "register:198.51.100.7")
        assert row is not None and row.failures == threads * per_thread


def test_long_values_are_hashed_into_the_key() -> None:
    key = throttle_key("account", "x" * 5000 + "@example.com")
    assert key.startswith("account:sha256:") and len(key) < 100
    assert throttle_key("account", " Alice@Example.com ") == "account:alice@example.com"


def test_checking_several_keys_at_once_answers_as_checking_each(auth_db: sessionmaker[Session]) -> None:
    start = utcnow()
    with transaction(auth_db) as db:
        hit(db, "account:b@example.com", 2, WINDOW, now=start)
        for _ in range(3):
            hit(db, "addr:192.0.2.9", 2, WINDOW, now=start)
        hit(db, "addr:192.0.2.10", 2, WINDOW, now=start - WINDOW)  # its window has ended
        limits = [("addr:192.0.2.9", 2), ("account:b@example.com", 2), ("addr:192.0.2.10", 2), ("account:none", 2)]
        together = check_all(db, limits, WINDOW, now=start)
        assert together == [check(db, key, limit, WINDOW, now=start) for key, limit in limits]
    assert [(d.allowed, d.counted) for d in together] == [(False, 3), (True, 1), (True, 0), (True, 0)]
    assert together[0].retry_after_seconds == 15 * 60
