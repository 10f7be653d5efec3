"""The authorization server's audit trail: sign-ins, consents, clients, keys, accounts, revocations.

:func:`record` writes one ``audit_events`` row (:class:`~shared.models.AuditEvent`) in the
caller's transaction, so it is committed with the change it describes (or not at all). Never
passwords, codes, tokens, secrets or bodies: only ids, actions, addresses, and what an operator
needs to read the trail (an email as it was typed, lower-cased and truncated, for failed sign-ins).
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, insert
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
    """Add an audit event for ``action`` (``login.failed``, ``user.disable``, …) to this transaction.

    A plain Core insert, a quarter of the ORM's unit of work; the session's pending changes are
    flushed first, so a row the event refers to (a new account) is already written.
    """
    session.flush()
    session.execute(
        _INSERT_EVENT,
        {
            "at": utcnow(),
            "action": action,
            "actor_user_id": user_id,
            "client_id": client_id[:2048] if client_id else None,
            "workspace_id": None,
            "target": target[:400] if target else None,
            "address": address[:64] if address else None,
            "details": details,
        },
    )


_INSERT_EVENT = insert(cast(Table, AuditEvent.__table__)).inline()  # inline: no RETURNING of the id
