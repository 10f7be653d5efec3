"""Whether a verified access token still speaks for its user: revocations before ``exp``.

A JWT stays valid until it expires; the authorization server cannot take it back. It
can only write down that it should no longer count, and this module reads that:

- ``users.disabled_at``: the account is disabled, every token is refused;
- ``users.tokens_valid_after``: tokens issued (``iat``) before it are refused (password
  change, "sign out everywhere");
- ``grant_revocations(user_id, client_id).not_before``: the same for one client.

Where the check lives: in the gate, before the SDK sees the request, so that a refused
token gets HTTP 401 ``invalid_token`` with the challenge (clients then re-authenticate)
rather than a tool error a client would not act on. One indexed query (the user's row
joined with the grant's row, as that user under RLS) tells all three; its answer is
cached per (user, client) for ``revocation_check_seconds`` (default 5 s), so a busy
client costs one query per few seconds and a revocation takes effect within that time.
What is cached is the user's state, not the decision: a token issued after a
revocation works at once even while the cached state is young.

Why not in the tool's own transaction: a refusal there could only be a tool error or a
JSON-RPC error inside a 200 response, which clients do not answer by signing in again;
and with the cache the steady-state cost is no round trip at all, less than one extra
statement per call. The query runs as the user (``user_transaction``), so on Postgres
the MCP role reads only that user's row and grant rows.

``iat`` has whole seconds: a token issued in the same second as a revocation, even just
after it, is refused too (its client re-authenticates): erring on the safe side.

Accounts: ``sub`` must be the id of one of our users. A token whose subject has no
account here (an issuer configured for this server but provisioning its users
elsewhere, or an account since deleted) is refused with 403: authenticating again would
not help, and the message says what would.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import user_transaction
from shared.models import GrantRevocation, User


class TokenRefused(Exception):
    """The token verified but no longer counts; ``status`` is 401 (re-authenticate) or 403."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Standing:
    """What the database says about a user and one of their clients."""

    disabled: bool
    not_before: datetime | None  # the later of tokens_valid_after and the grant's not_before


class RevocationCheck:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float, max_entries: int = 50_000):
        self._sessions = sessions
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: dict[tuple[uuid.UUID, str], tuple[float, Standing | None]] = {}

    async def check(self, subject: str, client_id: str, issued_at: int) -> uuid.UUID:
        """The user id the token speaks for, or :class:`TokenRefused`."""
        try:
            user_id = uuid.UUID(subject)
        except ValueError:
            raise TokenRefused(_NO_ACCOUNT, 403) from None
        standing = await self._standing(user_id, client_id)
        if standing is None:
            raise TokenRefused(_NO_ACCOUNT, 403)
        if standing.disabled:
            raise TokenRefused("the account is disabled")
        if standing.not_before is not None and issued_at < standing.not_before.timestamp():
            raise TokenRefused("the token was revoked: sign in again")
        return user_id

    async def _standing(self, user_id: uuid.UUID, client_id: str) -> Standing | None:
        key = (user_id, client_id)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        standing = await self._load(user_id, client_id)
        if self._ttl > 0:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()  # crude but bounded; entries are cheap to reload
            self._cache[key] = (now, standing)
        return standing

    async def _load(self, user_id: uuid.UUID, client_id: str) -> Standing | None:
        query = (
            select(User.disabled_at, User.tokens_valid_after, GrantRevocation.not_before)
            .outerjoin(
                GrantRevocation, and_(GrantRevocation.user_id == User.id, GrantRevocation.client_id == client_id)
            )
            .where(User.id == user_id)
        )
        async with user_transaction(self._sessions, str(user_id)) as session:
            row = (await session.execute(query)).one_or_none()
        if row is None:
            return None
        disabled_at, valid_after, grant_not_before = row
        bounds = [t for t in (valid_after, grant_not_before) if t is not None]
        return Standing(disabled=disabled_at is not None, not_before=max(bounds) if bounds else None)


_NO_ACCOUNT = (
    "no account on this server for this token's subject: the operator must create the account "
    "(tokens must come from the authorization server that manages this server's users)"
)
