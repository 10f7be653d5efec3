"""Taking access back: one application of one user, or everything a user holds.

Access tokens are JWTs the MCP server verifies on its own, so they cannot be recalled;
instead this module writes down from when they no longer count, and the MCP server reads it
(``mcpserver/revocation.py``) within ``revocation_check_seconds``:

- one application: ``grant_revocations(user, client).not_before``;
- every application: ``users.tokens_valid_after``.

Refresh tokens and unredeemed codes are ours, so they are revoked outright. ``iat`` has
whole seconds, so the instant written is the next whole second: a token issued in the
same second as the revocation, before it, must not slip through (one issued just after it
is refused too, and its client signs in again).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shared.models import AuthorizationCode, BrowserSession, GrantRevocation, RefreshToken, User, utcnow


def revocation_instant(now: datetime | None = None) -> datetime:
    """The first whole second after ``now``: tokens with ``iat`` before it are refused."""
    now = now or utcnow()
    return now.replace(microsecond=0) + timedelta(seconds=1)


def revoke_grant(db: Session, user_id: uuid.UUID, client_id: str, now: datetime | None = None) -> datetime:
    """End what ``client_id`` holds for ``user_id``: access tokens, refresh tokens, unredeemed codes.

    Returns the ``not_before`` written. Consent is kept (see :func:`authserver.consents.forget_consents`).
    """
    now = now or utcnow()
    not_before = revocation_instant(now)
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert(GrantRevocation) if dialect == "postgresql" else sqlite.insert(GrantRevocation)
    db.execute(
        insert.values(user_id=user_id, client_id=client_id, not_before=not_before).on_conflict_do_update(
            index_elements=[GrantRevocation.user_id, GrantRevocation.client_id], set_={"not_before": not_before}
        )
    )
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.client_id == client_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    # Only unredeemed codes: a redeemed one is already worthless, and leaving its row alone
    # keeps concurrent replays of it (each waiting on that row) from deadlocking with us.
    db.execute(
        delete(AuthorizationCode)
        .where(
            AuthorizationCode.user_id == user_id,
            AuthorizationCode.client_id == client_id,
            AuthorizationCode.used_at.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
    return not_before


def revoke_refresh_tokens(db: Session, user_id: uuid.UUID, now: datetime | None = None) -> int:
    """Revoke every refresh token of ``user_id`` (logout): applications sign in again once
    their short-lived access token runs out. Returns how many were live."""
    result = db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_browser_sessions(db: Session, user_id: uuid.UUID, keep_id_hash: str | None = None) -> int:
    """Sign ``user_id`` out of every browser (except the session ``keep_id_hash``); returns how many."""
    statement = delete(BrowserSession).where(BrowserSession.user_id == user_id)
    if keep_id_hash is not None:
        statement = statement.where(BrowserSession.id_hash != keep_id_hash)
    result = db.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_all_for_user(
    db: Session, user_id: uuid.UUID, now: datetime | None = None, *, keep_session_hash: str | None = None
) -> datetime:
    """End everything ``user_id`` holds: access and refresh tokens of every client, codes, browser sessions.

    ``keep_session_hash``: the browser session that asked (a password change keeps its own
    browser signed in). Returns the ``tokens_valid_after`` written.
    """
    now = now or utcnow()
    valid_after = revocation_instant(now)
    db.execute(update(User).where(User.id == user_id).values(tokens_valid_after=valid_after))
    db.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        delete(AuthorizationCode)
        .where(AuthorizationCode.user_id == user_id, AuthorizationCode.used_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    end_browser_sessions(db, user_id, keep_session_hash)
    return valid_after
