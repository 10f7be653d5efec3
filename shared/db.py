"""Engines and sessions for SQLite and Postgres.

Settings hold one driver-less URL per role (``sqlite:///…``, ``postgresql://…``); this
module picks the driver: the authorization server and the CLI use synchronous
sessions (Authlib is synchronous), the MCP server uses an async engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from shared.request_ids import current_request_id

if TYPE_CHECKING:
    from shared.settings import Settings

_SYNC_DRIVERS = {"sqlite": "sqlite+pysqlite", "postgresql": "postgresql+psycopg"}
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def backend_of(url: str) -> Literal["sqlite", "postgresql"]:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {name!r}: use sqlite:/// or postgresql://")
    return name  # type: ignore[return-value]


def sync_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername=_SYNC_DRIVERS[backend_of(url)]).render_as_string(hide_password=False)


def async_url(url: str, postgres_driver: str = "asyncpg") -> str:
    backend = backend_of(url)
    driver = _ASYNC_DRIVERS["sqlite" if backend == "sqlite" else f"postgresql+{postgres_driver}"]
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets both servers share the file; foreign keys are off in SQLite by default."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@dataclass(frozen=True)
class PoolLimits:
    """How a server process bounds its database use, so an outage or a slow query cannot pile up
    requests: a bounded pool with a checkout timeout, and (Postgres) connect, statement and lock
    timeouts set on every connection as it opens. The CLI and migrations run without them."""

    pool_size: int = 5
    overflow: int = 5
    pool_timeout: float = 30
    connect_timeout: float | None = None
    statement_timeout: float = 0
    lock_timeout: float = 0

    @classmethod
    def of(cls, settings: Settings) -> PoolLimits:
        return cls(
            pool_size=settings.db_pool_size,
            overflow=settings.db_pool_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_timeout=settings.db_connect_timeout,
            statement_timeout=settings.db_statement_timeout,
            lock_timeout=settings.db_lock_timeout,
        )

    def pool_arguments(self) -> dict[str, Any]:
        return {"pool_size": self.pool_size, "max_overflow": self.overflow, "pool_timeout": self.pool_timeout}

    def server_settings(self) -> dict[str, str]:
        """Postgres settings for each connection (milliseconds; absent when 0)."""
        timeouts = {"statement_timeout": self.statement_timeout, "lock_timeout": self.lock_timeout}
        return {name: str(round(seconds * 1000)) for name, seconds in timeouts.items() if seconds > 0}

    def connect_args(self, driver: str) -> dict[str, Any]:
        """The driver's own spelling of the connect timeout and the connection's settings."""
        settings = self.server_settings()
        if driver == "asyncpg":
            args: dict[str, Any] = {"server_settings": settings} if settings else {}
            if self.connect_timeout is not None:
                args["timeout"] = self.connect_timeout
            return args
        args = {"options": " ".join(f"-c {name}={value}" for name, value in settings.items())} if settings else {}
        if self.connect_timeout is not None:
            args["connect_timeout"] = max(2, round(self.connect_timeout))  # libpq: whole seconds, at least 2
        return args


def make_engine(url: str, *, pool_size: int = 5, limits: PoolLimits | None = None) -> Engine:
    """A synchronous engine (authorization server, CLI, migrations); servers pass their ``limits``."""
    limits = limits or PoolLimits(pool_size=pool_size, overflow=pool_size)
    if backend_of(url) == "sqlite":
        engine = create_engine(sync_url(url), pool_timeout=limits.pool_timeout)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        sync_url(url), **limits.pool_arguments(), pool_pre_ping=True, connect_args=limits.connect_args("psycopg")
    )


def pool_in_use(engine: Engine) -> int:
    """Connections checked out of ``engine``'s pool now (0 for pools that do not count, e.g. SQLite's)."""
    checked_out = getattr(engine.pool, "checkedout", None)
    return int(checked_out()) if callable(checked_out) else 0


def make_async_engine(
    url: str,
    *,
    postgres_driver: str = "asyncpg",
    pool_size: int = 10,
    limits: PoolLimits | None = None,
    pre_ping: bool = True,
) -> AsyncEngine:
    """An async engine (MCP server). ``pre_ping`` tests each pooled Postgres connection as it is
    checked out (a round trip or more); without it a connection a restart broke fails its first
    statement instead, which invalidates the pool (``mcpserver.database`` says why that is enough)."""
    limits = limits or PoolLimits(pool_size=pool_size, overflow=pool_size)
    if backend_of(url) == "sqlite":
        engine = create_async_engine(async_url(url), pool_timeout=limits.pool_timeout)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        async_url(url, postgres_driver),
        **limits.pool_arguments(),
        pool_pre_ping=pre_ping,
        connect_args=limits.connect_args(postgres_driver),
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_SET_REQUEST = text("select set_config('application_name', :request_id, true)")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    Inside an HTTP request on Postgres, the transaction's ``application_name`` is the request
    id (:mod:`shared.request_ids`), so ``pg_stat_activity`` and the server's log tie it to the
    request; the CLI, outside any request, pays nothing.
    """
    with factory() as session, session.begin():
        request_id = current_request_id()
        if request_id is not None and session.get_bind().dialect.name == "postgresql":
            session.execute(_SET_REQUEST, {"request_id": request_id})
        yield session


# One statement, no extra round trip: the user for the RLS policies, and the request id as the
# transaction's application_name (unchanged outside a request).
_SET_USER = text(
    "select set_config('app.user_id', :uid, true),"
    " set_config('application_name', coalesce(:request_id, current_setting('application_name')), true)"
)


@asynccontextmanager
async def user_transaction(
    factory: async_sessionmaker[AsyncSession], user_id: str | None
) -> AsyncIterator[AsyncSession]:
    """One transaction acting for ``user_id``.

    On Postgres the first statement sets the transaction-local ``app.user_id`` that the
    RLS policies read, so the database itself confines the transaction to what that
    user may see even if a query above it is wrong; the same statement names the
    transaction after the request id, as :func:`transaction` does.
    """
    async with factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            connection = await session.connection()  # Core level: a plain statement needs no ORM layer
            await connection.execute(_SET_USER, {"uid": user_id or "", "request_id": current_request_id()})
        yield session
