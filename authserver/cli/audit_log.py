"""``authserver audit``: read the audit trail, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from authserver.cli.database import load_settings, management_session
from authserver.cli.output import JsonOption, fail, iso, moment, print_json, print_table, readable_errors
from authserver.users import normalise_email
from shared.models import AuditEvent, User, utcnow

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_moment(value: str, now: datetime) -> datetime:
    """``30m``, ``12h``, ``7d``, ``2w`` before ``now``, or an ISO 8601 time (UTC unless it says otherwise)."""
    if match := _DURATION.match(value.strip()):
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment_ = datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"--since {value!r} is neither a duration (30m, 12h, 7d, 2w) nor an ISO 8601 time")
    return moment_ if moment_.tzinfo else moment_.replace(tzinfo=UTC)


def query_events(
    db: Session, *, since: datetime | None, action: str | None, user: str | None, limit: int
) -> list[dict[str, Any]]:
    """Matching events, newest first, with the actor's email when the account still exists."""
    actor = aliased(User)
    statement = (
        select(AuditEvent, actor.email)
        .outerjoin(actor, actor.id == AuditEvent.actor_user_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    if since is not None:
        statement = statement.where(AuditEvent.at >= since)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if user is not None:
        email = normalise_email(user)
        statement = statement.where(or_(actor.email == email, AuditEvent.target == email))
    return [_as_data(event, email) for event, email in db.execute(statement)]


def _as_data(event: AuditEvent, actor_email: str | None) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "action": event.action,
        "actor": actor_email or (str(event.actor_user_id) if event.actor_user_id else None),
        "client_id": event.client_id,
        "workspace_id": str(event.workspace_id) if event.workspace_id else None,
        "target": event.target,
        "address": event.address,
        "details": event.details or {},
    }


def audit(
    since: Annotated[
        str | None, typer.Option("--since", help="Only events after this: a duration (30m, 12h, 7d) or ISO time.")
    ] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action, e.g. login.failed.")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Only events by or about this email (actor or target).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many events.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Show the audit trail (sign-ins, consents, clients, keys, accounts, library changes), newest first."""
    settings = load_settings()
    start = since_moment(since, utcnow()) if since is not None else None
    with readable_errors(), management_session(settings) as db:
        events = query_events(db, since=start, action=action, user=user, limit=limit)
    if as_json:
        print_json(events)
        return
    rows = [
        (
            moment(datetime.fromisoformat(e["at"])) if e["at"] else "",
            e["action"],
            e["actor"] or "",
            e["target"] or "",
            e["client_id"] or "",
            e["address"] or "",
            " ".join(f"{key}={value}" for key, value in e["details"].items()),
        )
        for e in events
    ]
    print_table(("at (UTC)", "action", "actor", "target", "client", "address", "details"), rows, "no audit events")
