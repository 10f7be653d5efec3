"""Accounts: creation and changes by the operator or the user, lookup at login.

Every change that should end existing access goes through :mod:`authserver.revocation`:
disabling, a new password and deletion all stop the user's tokens at the MCP server
within seconds, not at their expiry.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authserver.passwords import check_new_password, hash_password
from authserver.revocation import revoke_all_for_user
from shared.models import User, utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(ValueError):
    """A request about users that cannot be carried out; the message says why."""


def normalise_email(email: str) -> str:
    """Emails are stored and compared lower-cased and without surrounding spaces."""
    return email.strip().lower()


def find_user_by_email(db: Session, email: str) -> User | None:
    return db.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()


def get_user_by_email(db: Session, email: str) -> User:
    """The account with ``email``, or :class:`UserError` naming it."""
    user = find_user_by_email(db, email)
    if user is None:
        raise UserError(f"no user with email {normalise_email(email)}")
    return user


def create_user(db: Session, email: str, password: str, name: str = "") -> User:
    """Add an account; :class:`UserError` for a bad email or a duplicate, PasswordRejected for a weak password."""
    email = normalise_email(email)
    if not _EMAIL.match(email) or len(email) > 320:
        raise UserError(f"{email!r} is not an email address")
    check_new_password(password, (email, name))
    if db.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserError(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password))
    db.add(user)
    try:
        db.flush()
    except IntegrityError as error:  # created by someone else in the meantime
        raise UserError(f"a user with email {email} already exists") from error
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.created_at, User.email)))


def set_password(
    db: Session, user: User, password_hash: str, now: datetime | None = None, *, keep_session_hash: str | None = None
) -> None:
    """Store a new (already checked and hashed) password and end everything the old one opened."""
    user.password_hash = password_hash
    db.flush()
    revoke_all_for_user(db, user.id, now, keep_session_hash=keep_session_hash)


def disable_user(db: Session, user: User, now: datetime | None = None) -> bool:
    """Refuse the account's sign-ins and tokens from now on; False if it was already disabled."""
    if user.disabled_at is not None:
        return False
    now = now or utcnow()
    user.disabled_at = now
    db.flush()
    revoke_all_for_user(db, user.id, now)
    return True


def enable_user(db: Session, user: User) -> bool:
    """Allow sign-ins again (old tokens stay revoked); False if it was not disabled."""
    if user.disabled_at is None:
        return False
    user.disabled_at = None
    return True


def delete_user(db: Session, user: User) -> None:
    """Remove the account; its sessions, tokens, consents and memberships go with it (ON DELETE CASCADE).

    The MCP server refuses tokens whose subject has no account, so nothing else is needed.
    """
    db.delete(user)
    db.flush()
