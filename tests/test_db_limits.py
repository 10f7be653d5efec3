"""Server connections carry their timeouts, and the database failures they cause read as "unavailable".

Against real drivers: the connect, statement and lock timeouts reach Postgres through each
driver's own spelling (psycopg for the authorization server, asyncpg or psycopg for the MCP
server), and ``is_unavailable`` tells a refused connection or a cancelled statement from a bug.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from shared.db import PoolLimits, make_async_engine, make_engine
from shared.db_errors import is_unavailable
from tests.conftest import require_postgres
from tests.processes import free_port

LIMITS = PoolLimits(pool_size=1, overflow=0, pool_timeout=1, connect_timeout=2, statement_timeout=0.2, lock_timeout=0.1)


def _on_closed_port(url: str) -> str:
    return make_url(url).set(host="127.0.0.1", port=free_port()).render_as_string(hide_password=False)


def test_server_connections_carry_their_timeouts_and_a_cancelled_statement_is_unavailable() -> None:
    engine = make_engine(require_postgres(), limits=LIMITS)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("show statement_timeout")) == "200ms"
            assert conn.scalar(text("show lock_timeout")) == "100ms"
            with pytest.raises(SQLAlchemyError) as cancelled:
                conn.execute(text("select pg_sleep(2)"))
            assert is_unavailable(cancelled.value)
        with engine.connect() as conn, pytest.raises(SQLAlchemyError) as bug:
            conn.execute(text("select * from no_such_table"))
        assert not is_unavailable(bug.value)
    finally:
        engine.dispose()


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_async_server_connections_carry_their_timeouts(driver: str) -> None:
    engine = make_async_engine(require_postgres(), postgres_driver=driver, limits=LIMITS)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("show statement_timeout")) == "200ms"
            assert await conn.scalar(text("show lock_timeout")) == "100ms"
            with pytest.raises(SQLAlchemyError) as cancelled:
                await conn.execute(text("select pg_sleep(2)"))
            assert is_unavailable(cancelled.value)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_a_refused_connection_is_unavailable(driver: str) -> None:
    engine = make_async_engine(_on_closed_port(require_postgres()), postgres_driver=driver, limits=LIMITS)
    try:
        with pytest.raises(Exception) as refused:
            async with engine.connect():
                pass
        assert is_unavailable(refused.value)
    finally:
        await engine.dispose()


def test_a_refused_connection_is_unavailable_to_the_authorization_server_too() -> None:
    engine = make_engine(_on_closed_port(require_postgres()), limits=LIMITS)
    with pytest.raises(SQLAlchemyError) as refused, engine.connect():
        pass
    assert is_unavailable(refused.value)


def test_sqlite_busy_is_unavailable_and_other_sqlite_errors_are_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("create table t (x integer)"))
    holder = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("pragma busy_timeout=100")
            with pytest.raises(SQLAlchemyError) as busy:
                conn.execute(text("insert into t values (1)"))
            assert is_unavailable(busy.value)
            with pytest.raises(SQLAlchemyError) as bug:
                conn.execute(text("select * from no_such_table"))
            assert not is_unavailable(bug.value)
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
