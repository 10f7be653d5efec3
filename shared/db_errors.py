"""Which database failures mean "unavailable, retry shortly" rather than a bug.

Both servers answer these the same way: the request did not happen (its transaction
rolled back, or never began), the client may retry after ``RETRY_AFTER_SECONDS``. The
kinds: no connection (refused, reset, the server restarting or shutting down), a pool
with no free connection within ``db_pool_timeout``, a statement or lock wait past its
timeout, a serialization failure or deadlock, SQLite's busy timeout. Anything else
(a constraint, a syntax error) is a bug and stays an error with a traceback in the log.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

RETRY_AFTER_SECONDS = 2
"""What ``Retry-After`` (and ``retryAfterSeconds``) say: Postgres restarts in about this long."""

_SQLSTATE_CLASSES = ("08", "53", "57")
"""Connection exception, insufficient resources (too many connections), operator intervention
(shutdown, restart, ``statement_timeout``/cancel)."""
_SQLSTATES = {"40001", "40P01", "55P03"}
"""Serialization failure, deadlock, lock not available (``lock_timeout``)."""
_SQLITE_BUSY = ("database is locked", "database table is locked", "unable to open database")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(exc: object) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT}


def _network_failure(error: BaseException) -> bool:
    """The way to the database failed (refused, reset, unreachable, timed out, no such host);
    not any OSError: a missing file is a bug."""
    if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
        return True
    return isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS


def _connection_failure(orig: object) -> bool:
    """A driver's connection failure, before any server answer, has no SQLSTATE (SQLite's never do)."""
    return _sqlstate(orig) is None and not isinstance(orig, sqlite3.Error)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says the database could not answer now."""
    for error in _chain(exc):
        if isinstance(error, sa_exc.TimeoutError):  # no pooled connection within db_pool_timeout
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sqlite3.OperationalError):
            return any(text in str(error) for text in _SQLITE_BUSY)
        code = _sqlstate(error)
        if code is not None:
            return code[:2] in _SQLSTATE_CLASSES or code in _SQLSTATES
        if _network_failure(error):
            return True
        if isinstance(error, sa_exc.OperationalError) and _connection_failure(error.orig):
            return True
    return False
