"""The authorization server's audit trail: sign-ins, consents, clients, keys, accounts, revocations.

:func:`record` adds one :class:`~shared.models.AuditEvent` to the caller's session, so it is
written in the same transaction as the change it describes (or not at all). Never passwords,
codes, tokens, secrets or bodies: only ids, actions, addresses, and what an operator needs to
read the trail (an email as it was typed, lower-cased and truncated, for failed sign-ins).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from shared.models import AuditEvent, utcnow

TYPED_EMAIL_CHARS = 254


def typed_email(email: str) -> str:
    """An email as typed, safe to store: stripped, lower-cased, cut to a bounded length."""
    return email.strip().lower()[:TYPED_EMAIL_CHARS]


def record(
    session: Session,
    action: str,
    *,
    user_id: uuid.UUID | None = None,
    client_id: str | None = None,
    target: str | None = None,
    address: str | None = None,
    **details: Any,
) -> None:
    """Add an audit event for ``action`` (``login.failed``, ``user.disable``, …) to this transaction."""
    session.add(
        AuditEvent(
            at=utcnow(),
            action=action,
            actor_user_id=user_id,
            client_id=client_id[:2048] if client_id else None,
            target=target[:400] if target else None,
            address=address[:64] if address else None,
            details=details,
        )
    )
