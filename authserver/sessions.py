"""Browser sessions at the authorization server, and the cookies that carry them.

The cookie holds a random id; the database keeps its SHA-256 (``browser_sessions.id_hash``),
so a database dump cannot be replayed as a cookie. A new id is issued at every login (no
session fixation). Before login there is no session, so the login form's CSRF token is a
double-submit cookie: a cross-site form cannot read or set it (SameSite=Lax, ``__Host-``).

Sessions end at logout (:func:`end_session`), and for every browser of a user when the
password changes, the user is disabled or the operator runs ``authserver sessions revoke``
(:mod:`authserver.revocation`); a disabled user's remaining cookie is refused here as well.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, delete, insert
from sqlalchemy.orm import Session
from starlette.responses import Response

from authserver.hashing import new_secret, secret_hash
from shared.models import BrowserSession, User, utcnow
from shared.settings import Settings

SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Cookies:
    """Names and flags of our cookies; ``__Host-`` names need Secure, so plain-http dev drops the prefix."""

    secure: bool

    @classmethod
    def for_settings(cls, settings: Settings) -> Cookies:
        return cls(secure=settings.secure_cookies)

    @property
    def session(self) -> str:
        return "__Host-skills_session" if self.secure else "skills_session"

    @property
    def login_csrf(self) -> str:
        return "__Host-skills_login_csrf" if self.secure else "skills_login_csrf"

    def set(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax")

    def clear(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


@dataclass(frozen=True)
class SignedIn:
    """A valid browser session and its user."""

    session: BrowserSession
    user: User


def start_session(db: Session, user: User, previous_cookie: str | None) -> str:
    """Create a session for ``user`` (ending the browser's previous one); returns the cookie value.

    ``user`` may be detached (loaded in an earlier transaction): only its id is used.
    """
    if previous_cookie:
        db.execute(delete(BrowserSession).where(BrowserSession.id_hash == secret_hash(previous_cookie)))
    cookie = new_secret()
    now = utcnow()
    # A plain Core insert (a login's hottest write): nothing reads the row back in this transaction.
    db.execute(
        _INSERT_SESSION,
        {
            "id_hash": secret_hash(cookie),
            "user_id": user.id,
            "csrf_token": secrets.token_urlsafe(32),
            "expires_at": now + SESSION_LIFETIME,
            "created_at": now,
            "last_seen_at": now,
        },
    )
    return cookie


_INSERT_SESSION = insert(cast(Table, BrowserSession.__table__)).inline()


def end_session(db: Session, cookie: str | None) -> None:
    """Sign this browser out (logout); an unknown cookie is nothing to end."""
    if cookie and len(cookie) <= 200:
        db.execute(delete(BrowserSession).where(BrowserSession.id_hash == secret_hash(cookie)))


def current_session(db: Session, cookie: str | None) -> SignedIn | None:
    """The session behind ``cookie`` if it is live and its user may still sign in."""
    if not cookie or len(cookie) > 200:
        return None
    row = db.get(BrowserSession, secret_hash(cookie))
    if row is None or row.expires_at <= utcnow():
        return None
    user = db.get(User, row.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return SignedIn(row, user)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time CSRF token comparison; a missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
