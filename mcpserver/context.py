"""What every tool needs: the settings, the database, and who is calling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from mcp.server.auth.middleware.auth_context import get_access_token
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mcpserver.changes import ChangeFeed
from mcpserver.errors import Unavailable
from shared.db import user_transaction
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable
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
        try:
            async with user_transaction(self.sessions, str(caller.user_id)) as session:
                yield session
        except Exception as exc:
            if is_unavailable(exc):
                raise Unavailable(RETRY_AFTER_SECONDS) from exc
            raise
