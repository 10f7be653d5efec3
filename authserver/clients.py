"""OAuth clients: the client Authlib sees, and how clients are found, registered, listed and removed.

A client comes from dynamic registration (``dcr``, RFC 7591), from a client ID metadata
document (``cimd``, :mod:`authserver.client_metadata_documents`) or from the operator
(``operator``). Clients re-register on many fresh connections, so a registration that never
obtained an authorization code expires after ``unused_client_ttl``: lazily when it is looked
up, and in bulk by :func:`prune_unused` (run at every registration and by the CLI).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from authserver.client_metadata import AUTH_METHODS, GRANT_TYPES, RESPONSE_TYPES, SUPPORTED_SCOPES
from authserver.hashing import matches_hash, new_secret, secret_hash
from authserver.redirect_uris import is_loopback, native_scheme_allowed, redirect_uri_matches
from authserver.revocation import revoke_grant
from shared.models import AuthorizationCode, Consent, OAuthClient, RefreshToken, utcnow
from shared.settings import SCOPES

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_SCOPE",
    "GRANT_TYPES",
    "RESPONSE_TYPES",
    "SUPPORTED_SCOPES",
    "Client",
    "ClientSummary",
    "Registration",
    "delete_client",
    "find_client",
    "get_client",
    "is_loopback",
    "list_clients",
    "mark_used",
    "prune_unused",
    "register_client",
]

DEFAULT_SCOPE = " ".join(SCOPES)
MAX_CLIENT_ID_LENGTH = 2048
EXPIRING_SOURCES = ("dcr", "cimd")  # operator clients are kept until the operator removes them


# The client as Authlib sees it -------------------------------------------------------------


@dataclass
class Client(ClientMixin):
    """A registered client; wraps the database row with the checks Authlib asks for."""

    row: OAuthClient
    native_schemes: Collection[str] = field(default=())

    @property
    def client_id(self) -> str:
        return self.row.client_id

    @property
    def metadata(self) -> dict[str, Any]:
        return self.row.client_metadata

    @property
    def name(self) -> str:
        return str(self.metadata.get("client_name") or self.client_id)

    @property
    def redirect_uris(self) -> list[str]:
        return list(self.metadata.get("redirect_uris", []))

    @property
    def token_endpoint_auth_method(self) -> str:
        return str(self.metadata.get("token_endpoint_auth_method", "none"))

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"  # noqa: S105 (an auth method name)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous default: with several registered URIs the request must name one.
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant: the request's (within what the client registered), or the default."""
        registered = self.metadata.get("scope")
        if not scope:
            return registered or DEFAULT_SCOPE
        requested = list(dict.fromkeys(scope_to_list(scope)))
        if registered and not set(requested) <= set(scope_to_list(registered)):
            return None
        return " ".join(requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        try:
            scheme = urlsplit(redirect_uri).scheme
        except ValueError:
            return False
        if scheme not in ("http", "https") and not native_scheme_allowed(scheme, self.native_schemes):
            return False  # the operator may have withdrawn a native scheme since registration
        return any(redirect_uri_matches(registered, redirect_uri) for registered in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        expires = self.row.client_secret_expires_at
        if expires is not None and expires <= utcnow():
            return False
        return matches_hash(client_secret, self.row.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # One method per client, at every endpoint: a confidential client never passes as public.
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", RESPONSE_TYPES)

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", ("authorization_code",))


def find_client(
    db: Session,
    client_id: str | None,
    *,
    unused_ttl: timedelta | None = None,
    native_schemes: Collection[str] = (),
) -> Client | None:
    """The client ``client_id``; with ``unused_ttl``, an expired unused registration is deleted instead."""
    if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
        return None
    row = db.get(OAuthClient, client_id)
    if row is None:
        return None
    if unused_ttl is not None and _unused_and_older_than(row, utcnow() - unused_ttl):
        db.execute(
            delete(OAuthClient)
            .where(OAuthClient.client_id == client_id, OAuthClient.last_used_at.is_(None))
            .execution_options(synchronize_session=False)
        )
        db.expunge(row)
        return None
    return Client(row, tuple(native_schemes))


def _unused_and_older_than(row: OAuthClient, cutoff: datetime) -> bool:
    return row.source in EXPIRING_SOURCES and row.last_used_at is None and row.created_at < cutoff


def mark_used(db: Session, client_id: str, now: datetime | None = None) -> None:
    """Record that the client obtained a code: it is no longer an unused registration."""
    db.execute(
        update(OAuthClient)
        .where(OAuthClient.client_id == client_id)
        .values(last_used_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


# Registration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """A new client and the secrets shown to it once: its client secret and registration access token."""

    row: OAuthClient
    client_secret: str | None
    registration_access_token: str


def register_client(db: Session, metadata: dict[str, Any], *, source: str = "dcr") -> Registration:
    """Store a new client with server-minted id and secrets (only their hashes are kept)."""
    public = metadata["token_endpoint_auth_method"] == "none"  # noqa: S105 (an auth method name)
    secret = None if public else new_secret()
    registration_token = new_secret()
    row = OAuthClient(
        client_id=secrets.token_urlsafe(16),
        client_secret_hash=secret_hash(secret) if secret else None,
        registration_token_hash=secret_hash(registration_token),
        source=source,
        client_metadata=metadata,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    return Registration(row, secret, registration_token)


# Operator view (the CLI) -------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSummary:
    client_id: str
    name: str
    source: str  # dcr | cimd | operator
    redirect_uris: list[str]
    created_at: datetime
    last_used_at: datetime | None


def _summary(row: OAuthClient) -> ClientSummary:
    return ClientSummary(
        client_id=row.client_id,
        name=str(row.client_metadata.get("client_name") or ""),
        source=row.source,
        redirect_uris=list(row.client_metadata.get("redirect_uris", [])),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def list_clients(session: Session) -> list[ClientSummary]:
    rows = session.scalars(select(OAuthClient).order_by(OAuthClient.created_at, OAuthClient.client_id))
    return [_summary(row) for row in rows]


def get_client(session: Session, client_id: str) -> ClientSummary | None:
    row = session.get(OAuthClient, client_id)
    return _summary(row) if row is not None else None


def delete_client(session: Session, client_id: str, now: datetime | None = None) -> bool:
    """Remove a client; its codes, refresh tokens and consents go with it (foreign-key cascade).

    Its access tokens are JWTs the MCP server verifies alone, so every user it holds tokens
    for gets a grant revocation first (the row outlives the client).
    """
    if session.get(OAuthClient, client_id) is None:
        return False
    users: set[uuid.UUID] = set()
    for model in (RefreshToken, AuthorizationCode, Consent):
        users.update(session.scalars(select(model.user_id).where(model.client_id == client_id).distinct()))
    for user_id in users:
        revoke_grant(session, user_id, client_id, now)
    session.execute(
        delete(OAuthClient).where(OAuthClient.client_id == client_id).execution_options(synchronize_session=False)
    )
    session.expire_all()
    return True


def prune_unused(session: Session, older_than: timedelta, now: datetime | None = None) -> int:
    """Delete dynamic and metadata-document registrations older than ``older_than`` that never obtained a code."""
    cutoff = (now or utcnow()) - older_than
    result = session.execute(
        delete(OAuthClient)
        .where(
            OAuthClient.source.in_(EXPIRING_SOURCES),
            OAuthClient.last_used_at.is_(None),
            OAuthClient.created_at < cutoff,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
