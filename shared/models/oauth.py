"""OAuth state of the authorization server: clients, grants, tokens, consents, keys.

Secrets and tokens are stored only as SHA-256 hashes; a database dump reveals none.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, CreatedAt


class OAuthClient(CreatedAt, Base):
    """A registered client: by dynamic registration, a metadata document, or the operator."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    client_secret_expires_at: Mapped[datetime | None]
    registration_token_hash: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="dcr")  # dcr | cimd | operator
    client_metadata: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # CIMD documents are re-fetched after this instant (HTTP caching headers).
    metadata_expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None] = mapped_column(index=True)


class AuthorizationRequest(CreatedAt, Base):
    """An /authorize request waiting for login and consent, held server-side under a one-time id."""

    __tablename__ = "authorization_requests"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class AuthorizationCode(CreatedAt, Base):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    resource: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8), default="S256")
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Tokens issued from this code belong to this family, so a replayed code revokes them.
    family_id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)


class RefreshToken(CreatedAt, Base):
    """One refresh token of a rotation family; reuse of a rotated one revokes the family."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    resource: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    family_expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_refresh_tokens_user_client", "user_id", "client_id"),)


class Consent(CreatedAt, Base):
    """What a user allowed a client to do at a resource."""

    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    last_used_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("user_id", "client_id", "resource"),)


class SigningKey(CreatedAt, Base):
    """A JWS key. ``state``: next → active → retiring (published, not signing) → retired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]]
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16), index=True)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class GrantRevocation(Base):
    """Access tokens of ``user_id`` for ``client_id`` issued (``iat``) before ``not_before`` are refused.

    Written by the authorization server when a user revokes a client's access (or a refresh
    token family is revoked); read by the MCP server, which refuses such tokens with 401
    before their ``exp``. Whole-account revocation is ``users.tokens_valid_after`` instead.
    """

    __tablename__ = "grant_revocations"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(2048), primary_key=True)
    not_before: Mapped[datetime]
