"""Authorization requests waiting for the user's login and consent.

``/authorize`` validates the request, stores it here under a random one-time id (only its
hash is kept) and sends the browser on with that id. The login and consent forms carry only
the id, so nothing the browser sends back can change what was validated; consent consumes
the id atomically, so a replayed form is refused.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from authserver.hashing import new_secret, secret_hash
from shared.models import AuthorizationRequest, utcnow

PENDING_LIFETIME = timedelta(minutes=15)


def save_pending(db: Session, client_id: str, params: dict[str, Any]) -> str:
    """Store a validated request; returns its one-time id."""
    request_id = new_secret()
    now = utcnow()
    db.add(
        AuthorizationRequest(
            id_hash=secret_hash(request_id),
            client_id=client_id,
            params=params,
            created_at=now,
            expires_at=now + PENDING_LIFETIME,
        )
    )
    return request_id


def find_pending(db: Session, request_id: str | None) -> AuthorizationRequest | None:
    """The request if it exists, is not consumed and has not expired."""
    if not request_id or len(request_id) > 200:
        return None
    row = db.get(AuthorizationRequest, secret_hash(request_id))
    if row is None or row.consumed_at is not None or row.expires_at <= utcnow():
        return None
    return row


def consume_pending(db: Session, request_id: str | None) -> AuthorizationRequest | None:
    """Claim the request once: of two concurrent calls, exactly one gets it."""
    row = find_pending(db, request_id)
    if row is None:
        return None
    claimed = db.execute(
        update(AuthorizationRequest)
        .where(AuthorizationRequest.id_hash == row.id_hash, AuthorizationRequest.consumed_at.is_(None))
        .values(consumed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return row if claimed.rowcount == 1 else None  # type: ignore[attr-defined]
