"""People and their browser sign-ins: users, browser sessions, login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, CreatedAt, utcnow


class User(CreatedAt, Base):
    """An account. ``sub`` of every token is ``id``; ``email`` is stored lower-cased."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    disabled_at: Mapped[datetime | None]
    # Access tokens issued before this instant are refused by the MCP server
    # (set on disable, password change and "revoke everything").
    tokens_valid_after: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BrowserSession(CreatedAt, Base):
    """A signed-in browser at the authorization server, known by the hash of its cookie."""

    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failure counters per key (``account:<email>``, ``addr:<ip>``, ``register:<ip>``).

    Kept in the database so every process and replica sees the same counts.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime]
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None]
