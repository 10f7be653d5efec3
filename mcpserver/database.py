"""The MCP server's database engine: the MCP role's URL and the pool limits and timeouts
of the settings (``shared.db.PoolLimits``), with three adjustments.

- No pre-ping: testing each pooled connection at checkout cost asyncpg three of the seven
  round trips of a tool call (``bench/results/drivers_pre_ping.md``: 1.18-1.23x the
  transactions per second without it). A connection that a Postgres restart broke fails
  its first statement instead; SQLAlchemy recognises the disconnect and invalidates the
  whole pool, a read is then tried once more on a fresh connection and a write answers
  "unavailable: … retry" (``mcpserver.calls``). ``tests/soak/test_outage.py`` and
  ``tests/e2e/test_web_outage.py`` prove the recovery.

- SQL parameters are never put into exception messages, which end up in logs: they
  would carry snippet bodies.
- On SQLite, transactions are real: the driver's default runs the reads that precede
  the first write outside any transaction and makes a savepoint release commit. Every
  transaction starts with ``BEGIN IMMEDIATE`` instead, so it is atomic, its reads are
  consistent with its writes, and concurrent writers queue on the busy timeout rather
  than failing when one upgrades a stale read snapshot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import PoolLimits, make_async_engine
from shared.settings import Settings


def make_mcp_engine(settings: Settings) -> AsyncEngine:
    engine = make_async_engine(
        settings.mcp_db_url, postgres_driver=settings.postgres_driver, limits=PoolLimits.of(settings), pre_ping=False
    )
    engine.sync_engine.hide_parameters = True
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _driver_leaves_transactions_to_us)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
