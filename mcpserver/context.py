"""What every tool needs: the settings, the database, and who is calling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

from mcp.server.auth.middleware.auth_context import get_access_token
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mcpserver.changes import ChangeFeed
from mcpserver.errors import Unavailable
from mcpserver.repository import asyncpg_reads
from mcpserver.repository.asyncpg_reads import AsyncpgReads
from shared.db import user_transaction
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable
from shared.request_ids import current_request_id
from shared.settings import Settings


@dataclass(frozen=True)
class Caller:
    """The signed-in user and the client acting for them, from the verified token."""

    user_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]


def caller_or_none() -> Caller | None:
    """The caller of this request; the gate has checked that ``sub`` is one of our users."""
    token = get_access_token()
    if token is None or token.subject is None:
        return None
    try:
        return Caller(uuid.UUID(token.subject), token.client_id, frozenset(token.scopes))
    except ValueError:
        return None


def current_caller() -> Caller:
    caller = caller_or_none()
    if caller is None:
        # The gate refuses unauthenticated requests before any tool runs.
        raise PermissionError("no authenticated caller")
    return caller


@dataclass
class AppContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    changes: ChangeFeed = field(default_factory=ChangeFeed)

    @asynccontextmanager
    async def transaction(self, caller: Caller) -> AsyncIterator[AsyncSession]:
        """One transaction for one call, confined to the caller on Postgres (RLS); a database that
        does not answer becomes :class:`Unavailable` ("unavailable: … retry"), not a crash."""
        async with _unavailable_as_error(), user_transaction(self.sessions, str(caller.user_id)) as session:
            yield session

    @asynccontextmanager
    async def reads(self, caller: Caller) -> AsyncIterator[AsyncSession | AsyncpgReads]:
        """A read-only transaction for the hot reads (``repository.snippets``' ``list_visible``, ``get``,
        ``get_by_slug``): on the asyncpg connection itself when the engine is asyncpg's
        (:mod:`mcpserver.repository.asyncpg_reads` says why), else :meth:`transaction`'s session."""
        if self._engine is None:
            async with self.transaction(caller) as session:
                yield session
            return
        async with (
            _unavailable_as_error(),
            asyncpg_reads.read_transaction(self._engine, caller.user_id, current_request_id()) as reads,
        ):
            yield reads

    @cached_property
    def _engine(self) -> AsyncEngine | None:
        """The engine of the sessions when :meth:`reads` can bypass them, else None."""
        engine = self.sessions.kw.get("bind")
        return engine if isinstance(engine, AsyncEngine) and asyncpg_reads.applies_to(engine) else None


@asynccontextmanager
async def _unavailable_as_error() -> AsyncIterator[None]:
    try:
        yield
    except Exception as exc:
        if is_unavailable(exc):
            raise Unavailable(RETRY_AFTER_SECONDS) from exc
        raise
