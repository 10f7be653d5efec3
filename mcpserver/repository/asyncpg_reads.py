"""The hot reads (``list_snippets``, ``get_snippet``) on the asyncpg connection itself, on Postgres.

Why: under load, SQLAlchemy's share of a read call's transaction (BEGIN, ``set_config`` of the
user and the request id, the query, COMMIT) was about 23% of the MCP worker's samples, and
``bench/drivers.py`` measured the same transaction at 3.2-4.1x the CPU through SQLAlchemy as on
bare asyncpg (``bench/README.md``, "Postgres driver choice"). Here the transaction is three round
trips: ``BEGIN READ ONLY`` with the ``set_config`` calls in one simple-protocol message, the
query as a prepared statement from asyncpg's statement cache, and COMMIT.

What stays SQLAlchemy's: the connection comes from the engine's pool (its limits, timeouts and
the connection's ``server_settings``; SQLAlchemy's JSON codecs are set on it), and the SQL is
the repository's own statements, compiled once per statement for the dialect, with their
parameters and columns converted by the types' own processors. A connection that failed
(closed under the query) is invalidated as SQLAlchemy does on a disconnect: with every
connection of the pool opened before it, since a Postgres restart broke those too.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select
from sqlalchemy.util import greenlet_spawn

from mcpserver.errors import Unavailable
from shared.db_errors import RETRY_AFTER_SECONDS

_Processor = Callable[[Any], Any] | None


def applies_to(engine: AsyncEngine) -> bool:
    """Whether ``engine``'s reads can run here: Postgres through asyncpg (not SQLite, not psycopg)."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "asyncpg"


@dataclass(frozen=True)
class _Compiled:
    """A statement as asyncpg runs it: the SQL with ``$n`` parameters, where each parameter's value
    comes from (the execution's key, or the statement's own value) and the processors of the
    parameters and of the result columns (None where the value passes as it is)."""

    sql: str
    parameters: tuple[tuple[str | None, Any, _Processor], ...]
    columns: tuple[_Processor, ...]


@lru_cache(maxsize=512)
def _compiled(statement: Select[Any], dialect: Dialect) -> _Compiled:
    compiled = statement.compile(dialect=dialect)
    parameters: list[tuple[str | None, Any, _Processor]] = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            parameters.append((bind.key, None, process))
        else:  # a value built into the statement ('public', …): processed once
            parameters.append((None, process(bind.effective_value) if process else bind.effective_value, None))
    columns = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns)
    return _Compiled(compiled.string, tuple(parameters), columns)


class AsyncpgReads:
    """One read-only transaction on an asyncpg connection, confined to a user (RLS)."""

    def __init__(self, dialect: Dialect, connection: Any) -> None:
        self.dialect = dialect
        self._connection = connection

    async def rows(self, statement: Select[Any], params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` with ``params`` (its parameters without values), as SQLAlchemy
        would return them."""
        shape = _compiled(statement, self.dialect)
        args = [
            (process(params[key]) if process else params[key]) if key is not None else value
            for key, value, process in shape.parameters
        ]
        records = await self._connection.fetch(shape.sql, *args)
        if not any(shape.columns):
            return [tuple(record) for record in records]
        return [
            tuple(process(v) if process else v for v, process in zip(record, shape.columns, strict=True))
            for record in records
        ]


@asynccontextmanager
async def read_transaction(
    engine: AsyncEngine, user_id: uuid.UUID, request_id: str | None
) -> AsyncIterator[AsyncpgReads]:
    """A read-only transaction for ``user_id`` on a connection of ``engine``'s pool, named after
    ``request_id`` (``application_name``), as ``shared.db.user_transaction`` does for a session.
    A connection lost meanwhile is :class:`Unavailable`, so a read is tried once more."""
    dialect = engine.dialect
    pooled = await engine.raw_connection()
    connection = pooled.driver_connection
    assert connection is not None
    try:
        await connection.execute(_begin(dialect, user_id, request_id))
        yield AsyncpgReads(dialect, connection)
        await connection.execute("COMMIT")
    except Exception as exc:
        if connection.is_closed():
            # What SQLAlchemy does on a disconnect (Connection._handle_dbapi_exception).
            engine.sync_engine.pool._invalidate(pooled, exc)
            raise Unavailable(RETRY_AFTER_SECONDS) from exc
        try:
            await connection.execute("ROLLBACK")
        except Exception:
            pooled.invalidate(exc)
        raise
    except BaseException:
        pooled.invalidate()  # cancelled mid-statement: the connection's state is unknown
        raise
    finally:
        if pooled.is_valid:
            await greenlet_spawn(pooled.close)


def _begin(dialect: Dialect, user_id: uuid.UUID, request_id: str | None) -> str:
    """``BEGIN READ ONLY`` and the ``set_config`` calls as one simple-protocol message (one round
    trip), their values quoted as literals by the dialect."""
    quote = _literal(dialect)
    settings = f"set_config('app.user_id', {quote(str(user_id))}, true)"
    if request_id is not None:
        settings += f", set_config('application_name', {quote(request_id)}, true)"
    return f"BEGIN READ ONLY; SELECT {settings}"


@lru_cache(maxsize=4)
def _literal(dialect: Dialect) -> Callable[[str], str]:
    process = String().literal_processor(dialect)
    assert process is not None
    return process
