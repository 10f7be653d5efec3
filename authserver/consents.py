"""What each user allowed each client to do at each resource, and the applications a user authorized.

One row per (user, client, resource) holding every scope the user allowed there. A later
request of the same client for the same resource and only scopes already allowed needs no
new consent page; any other client, resource or scope asks again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from authserver.clients import find_client
from shared.models import Consent, RefreshToken, utcnow


def _scopes(scope: str | None) -> set[str]:
    return set((scope or "").split())


def record_consent(db: Session, user_id: uuid.UUID, client_id: str, resource: str, scope: str) -> Consent:
    """Store (or widen) the user's consent for this client at this resource."""
    row = _find(db, user_id, client_id, resource)
    now = utcnow()
    if row is None:
        row = Consent(user_id=user_id, client_id=client_id, resource=resource, scope=scope, created_at=now)
        db.add(row)
    else:
        row.scope = " ".join(sorted(_scopes(row.scope) | _scopes(scope)))
    row.last_used_at = now
    return row


def has_consent(db: Session, user_id: uuid.UUID, client_id: str, resource: str, scope: str) -> bool:
    """True if the user already allowed every scope of ``scope`` to this client at this resource."""
    row = _find(db, user_id, client_id, resource)
    return row is not None and _scopes(scope) <= _scopes(row.scope)


def touch_consent(db: Session, user_id: uuid.UUID, client_id: str, resource: str) -> None:
    """Note that a remembered consent was used (the account page shows when)."""
    row = _find(db, user_id, client_id, resource)
    if row is not None:
        row.last_used_at = utcnow()


def forget_consents(db: Session, user_id: uuid.UUID, client_id: str) -> int:
    """Forget what the user allowed ``client_id`` (its next request asks again); returns how many."""
    result = db.execute(
        delete(Consent)
        .where(Consent.user_id == user_id, Consent.client_id == client_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _find(db: Session, user_id: uuid.UUID, client_id: str, resource: str) -> Consent | None:
    return db.scalars(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id, Consent.resource == resource)
    ).one_or_none()


@dataclass(frozen=True)
class AuthorizedApplication:
    """One row of the account page: a client the user allowed, what it may do, when it last acted."""

    client_id: str
    name: str
    scopes: list[str]
    resources: list[str]
    last_used_at: datetime | None


def authorized_applications(db: Session, user_id: uuid.UUID) -> list[AuthorizedApplication]:
    """The clients the user consented to, most recently used first.

    "Last used" is the later of the last consent and the last token the client obtained
    for this user (a refresh rotates the token, so that is the client's last visit).
    """
    consents = db.scalars(select(Consent).where(Consent.user_id == user_id)).all()
    last_tokens = dict(
        db.execute(
            select(RefreshToken.client_id, func.max(RefreshToken.created_at))
            .where(RefreshToken.user_id == user_id)
            .group_by(RefreshToken.client_id)
        ).all()
    )
    by_client: dict[str, list[Consent]] = {}
    for row in consents:
        by_client.setdefault(row.client_id, []).append(row)
    applications = []
    for client_id, rows in by_client.items():
        client = find_client(db, client_id)
        moments = [t for t in (*(r.last_used_at for r in rows), last_tokens.get(client_id)) if t is not None]
        applications.append(
            AuthorizedApplication(
                client_id=client_id,
                name=client.name if client else client_id,
                scopes=sorted(set().union(*(_scopes(r.scope) for r in rows))),
                resources=sorted(r.resource for r in rows),
                last_used_at=max(moments) if moments else None,
            )
        )
    applications.sort(key=lambda a: (a.last_used_at is None, -(a.last_used_at.timestamp() if a.last_used_at else 0)))
    return applications
