"""Signed-in browsers of the web library (served by the MCP server under ``/library``).

The cookie holds a random id; the table keeps its SHA-256, so a database dump cannot be
replayed as a cookie. A session remembers the access token's client and issue time (not
the token), so the revocation rules the MCP endpoint applies to tokens end it too.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, CreatedAt, utcnow


class WebSession(CreatedAt, Base):
    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(2048))
    scopes: Mapped[str] = mapped_column(Text, default="")
    csrf_token: Mapped[str] = mapped_column(String(64))
    # ``iat`` of the access token the sign-in obtained: revocations "before" it end the session.
    token_issued_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
