"""Server-side sessions of the web library, and who is signed in.

The cookie holds only a random id; ``web_sessions`` keeps its SHA-256 (a dump cannot be
replayed). The cookie is ``HttpOnly; SameSite=Lax; Path=/``, and ``__Host-…; Secure``
when the library's public URL is https. A session ends:

- after ``web_session_idle_seconds`` without a request, or ``web_session_lifetime_seconds``
  after sign-in;
- at sign-out;
- when the rules that refuse access tokens at the MCP endpoint refuse the token it was
  created from (:class:`mcpserver.revocation.RevocationCheck`): the user disabled, their
  tokens revoked (password change, "sign out everywhere"), or the web client's grant
  revoked from the account page. Checked on every request, within the same few seconds.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from mcpserver.context import Caller
from mcpserver.revocation import RevocationCheck, TokenRefused
from mcpserver.web.throttle import count
from shared.db import user_transaction
from shared.models import User, WebSession, utcnow
from shared.settings import WEB_CLIENT_ID, Settings

LAST_SEEN_RESOLUTION = timedelta(seconds=60)
"""``last_seen_at`` is written at most this often per session (not on every page view)."""


class SignInRequired(Exception):
    """No valid session: the app answers with a redirect to sign in (then back to ``next``)."""

    def __init__(self, next_path: str | None = None) -> None:
        super().__init__("sign in required")
        self.next_path = next_path


@dataclass(frozen=True)
class WebUser:
    id: uuid.UUID
    email: str  # empty: the MCP server's database role may not read email addresses
    display_name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ActiveSession:
    """A live session: its user and the CSRF token of its forms."""

    user: WebUser
    csrf_token: str
    id_hash: str


def caller_of(user: WebUser) -> Caller:
    """The caller the repository sees: this user through the web client, as a tool call would be."""
    return Caller(user_id=user.id, client_id=WEB_CLIENT_ID, scopes=user.scopes)


def id_hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    def __init__(
        self, settings: Settings, sessions: async_sessionmaker[AsyncSession], revocations: RevocationCheck
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._revocations = revocations
        self.secure = settings.web_base_url.startswith("https://")
        self.idle = timedelta(seconds=settings.web_session_idle_seconds)
        self.lifetime = timedelta(seconds=settings.web_session_lifetime_seconds)

    # Cookies --------------------------------------------------------------------------

    @property
    def cookie_name(self) -> str:
        return "__Host-skills_library" if self.secure else "skills_library"

    @property
    def signin_cookie_name(self) -> str:
        return "__Host-skills_library_signin" if self.secure else "skills_library_signin"

    def set_cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=self.secure, httponly=True, samesite="lax")

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")

    # Sessions -------------------------------------------------------------------------

    async def start(self, user_id: uuid.UUID, client_id: str, scopes: str, issued_at: int) -> str:
        """Create a session for a verified sign-in; returns the cookie value (a new id at every sign-in)."""
        cookie = secrets.token_urlsafe(32)
        now = utcnow()
        async with user_transaction(self._sessions, str(user_id)) as session:
            # Tidy: this user's sessions that ended without a sign-out.
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id, WebSession.expires_at <= now))
            session.add(
                WebSession(
                    id_hash=id_hash(cookie),
                    user_id=user_id,
                    client_id=client_id,
                    scopes=scopes,
                    csrf_token=secrets.token_urlsafe(32),
                    token_issued_at=datetime.fromtimestamp(issued_at, UTC),
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.lifetime,
                )
            )
        return cookie

    async def end(self, cookie: str | None) -> None:
        if not cookie or len(cookie) > 200:
            return
        hashed = id_hash(cookie)
        user_id = await self._owner(hashed)
        if user_id is None:
            return
        async with user_transaction(self._sessions, str(user_id)) as session:
            await session.execute(delete(WebSession).where(WebSession.id_hash == hashed))

    async def current(self, cookie: str | None) -> ActiveSession | None:
        """The live session behind ``cookie``, or None (an ended one is deleted on the way)."""
        if not cookie or len(cookie) > 200:
            return None
        hashed = id_hash(cookie)
        user_id = await self._owner(hashed)
        if user_id is None:
            return None
        now = utcnow()
        async with user_transaction(self._sessions, str(user_id)) as session:
            row = await session.get(WebSession, hashed)
            if row is None:
                return None
            client_id, issued_at = row.client_id, int(row.token_issued_at.timestamp())
            if row.expires_at <= now or row.last_seen_at + self.idle <= now:
                await session.delete(row)
                return None
            if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
                await session.execute(update(WebSession).where(WebSession.id_hash == hashed).values(last_seen_at=now))
            name = await session.scalar(select(User.name).where(User.id == user_id))
            active = ActiveSession(
                WebUser(user_id, "", name or "", frozenset(row.scopes.split())), row.csrf_token, hashed
            )
        try:
            await self._revocations.check(str(user_id), client_id, issued_at)
        except TokenRefused:
            async with user_transaction(self._sessions, str(user_id)) as session:
                await session.execute(delete(WebSession).where(WebSession.id_hash == hashed))
            return None
        return active

    async def _owner(self, hashed: str) -> uuid.UUID | None:
        """Whose session this is: on Postgres through the one definer function that may tell (RLS)."""
        async with user_transaction(self._sessions, None) as session:
            if session.get_bind().dialect.name == "postgresql":
                found = await session.scalar(text("select app.web_session_user(:h)"), {"h": hashed})
            else:
                found = await session.scalar(select(WebSession.user_id).where(WebSession.id_hash == hashed))
        return None if found is None else uuid.UUID(str(found))


def _store(request: Request) -> SessionStore:
    from mcpserver.web.state import library

    return library(request).sessions


async def active_session(request: Request) -> ActiveSession | None:
    """The request's session, looked up once per request."""
    if "web_session" in request.scope:
        cached: ActiveSession | None = request.scope["web_session"]
        return cached
    store = _store(request)
    active = await store.current(request.cookies.get(store.cookie_name))
    request.scope["web_session"] = active
    return active


async def require_user(request: Request) -> WebUser:
    """The signed-in user, or :class:`SignInRequired` (the app redirects to sign-in and back).

    A page view (GET) counts against the user's ``read`` rate limit here, once per request."""
    active = await active_session(request)
    if active is None:
        next_path = request.url.path if request.method == "GET" else None
        if next_path and request.url.query:
            next_path += "?" + request.url.query
        raise SignInRequired(next_path)
    if request.method in ("GET", "HEAD"):  # a form's POST counts in checked_form (mcpserver.web.csrf)
        await count(request, active.user.id, "read")
    return active.user
