"""What each user allowed each client to do at each resource."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.models import Consent, utcnow


def record_consent(db: Session, user_id: uuid.UUID, client_id: str, resource: str, scope: str) -> Consent:
    """Store (or refresh) the user's consent; one row per user, client and resource."""
    row = db.scalars(
        select(Consent).where(Consent.user_id == user_id, Consent.client_id == client_id, Consent.resource == resource)
    ).one_or_none()
    now = utcnow()
    if row is None:
        row = Consent(user_id=user_id, client_id=client_id, resource=resource, scope=scope, created_at=now)
        db.add(row)
    else:
        row.scope = scope
    row.last_used_at = now
    return row
