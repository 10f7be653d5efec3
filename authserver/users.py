"""Accounts: creation by the operator, lookup at login."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authserver.passwords import check_new_password, hash_password
from shared.models import User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class UserError(ValueError):
    """An operator request about users that cannot be carried out; the message says why."""


def normalise_email(email: str) -> str:
    """Emails are stored and compared lower-cased and without surrounding spaces."""
    return email.strip().lower()


def find_user_by_email(db: Session, email: str) -> User | None:
    return db.scalars(select(User).where(User.email == normalise_email(email))).one_or_none()


def create_user(db: Session, email: str, password: str, name: str = "") -> User:
    """Add an account; raises :class:`UserError` for a bad email, a weak password or a duplicate."""
    email = normalise_email(email)
    if not _EMAIL.match(email) or len(email) > 320:
        raise UserError(f"{email!r} is not an email address")
    check_new_password(password)
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
