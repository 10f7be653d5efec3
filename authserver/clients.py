"""OAuth clients: which redirect URIs we accept, how they match, and the client Authlib sees.

Redirect URIs (RFC 9700 §2.1, RFC 8252 §7.3): https anywhere, or plain http only on a
loopback host; never a fragment, userinfo, or a ``javascript:``/``data:``/``file:`` scheme.
A requested redirect URI must equal a registered one exactly, except that a loopback URI may
use any port: native apps (Claude Code, VS Code) listen on whatever port is free.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError, InvalidRedirectURIError
from sqlalchemy.orm import Session

from authserver.hashing import matches_hash, new_secret, secret_hash
from shared.models import OAuthClient, utcnow
from shared.settings import OFFLINE_ACCESS, SCOPES

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
GRANT_TYPES = ("authorization_code", "refresh_token")
RESPONSE_TYPES = ("code",)
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
SUPPORTED_SCOPES = (*SCOPES, OFFLINE_ACCESS)
DEFAULT_SCOPE = " ".join(SCOPES)
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_TEXT_LENGTH = 200


# Redirect URI policy -----------------------------------------------------------------------


def _split(uri: str) -> SplitResult | None:
    """Parse a URI we might accept, or None if it is not even well-formed printable ASCII."""
    if not uri or len(uri) > MAX_URI_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in uri):
        return None
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    return parts


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not be registered as a redirect URI, or None if it may."""
    parts = _split(uri)
    if parts is None:
        return "is not a well-formed absolute URI"
    if "#" in uri:
        return "must not contain a fragment"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "must be an https URI, or http on a loopback address"
    if "@" in parts.netloc:
        return "must not contain user information"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "may use plain http only on a loopback address (127.0.0.1, [::1] or localhost)"
    return None


def is_loopback(uri: str) -> bool:
    parts = _split(uri)
    return parts is not None and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact match, or for loopback URIs the same host, path and query on any port."""
    if requested == registered:
        return True
    if not is_loopback(registered) or redirect_uri_problem(requested) is not None:
        return False
    reg, req = urlsplit(registered), urlsplit(requested)
    return (req.scheme, req.hostname, req.path, req.query) == (reg.scheme, reg.hostname, reg.path, reg.query)


# The client as Authlib sees it -------------------------------------------------------------


@dataclass
class Client(ClientMixin):
    """A registered client; wraps the database row with the checks Authlib asks for."""

    row: OAuthClient

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


def find_client(db: Session, client_id: str | None) -> Client | None:
    if not client_id or len(client_id) > 2048:
        return None
    row = db.get(OAuthClient, client_id)
    return Client(row) if row is not None else None


# Dynamic registration (RFC 7591) -----------------------------------------------------------


def client_metadata_from_request(body: Any) -> dict[str, Any]:
    """Validate a registration request and return the metadata we register.

    Values the client may not choose (client_id, secrets, issue times) are ignored here and
    minted by the server; unknown fields are dropped (RFC 7591 §2 lets the server ignore them).
    """
    if not isinstance(body, dict):
        raise InvalidClientMetadataError("The registration request must be a JSON object.")

    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris or not all(isinstance(u, str) for u in redirect_uris):
        raise InvalidRedirectURIError("'redirect_uris' must be a non-empty array of strings.")
    if len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectURIError(f"At most {MAX_REDIRECT_URIS} redirect URIs may be registered.")
    for uri in redirect_uris:
        if problem := redirect_uri_problem(uri):
            # The URI itself is not echoed: it may hold characters an error description may not.
            raise InvalidRedirectURIError(f"Redirect URI number {redirect_uris.index(uri) + 1} {problem}.")

    auth_method = body.get("token_endpoint_auth_method", "none")
    if auth_method not in AUTH_METHODS:
        raise InvalidClientMetadataError(f"'token_endpoint_auth_method' must be one of: {', '.join(AUTH_METHODS)}.")

    grant_types = _string_list(body, "grant_types", ["authorization_code"])
    if not set(grant_types) <= set(GRANT_TYPES) or "authorization_code" not in grant_types:
        raise InvalidClientMetadataError("'grant_types' may hold only authorization_code and refresh_token.")
    response_types = _string_list(body, "response_types", ["code"])
    if response_types != ["code"]:
        raise InvalidClientMetadataError("'response_types' may hold only 'code'.")

    metadata: dict[str, Any] = {
        "redirect_uris": list(dict.fromkeys(redirect_uris)),
        "token_endpoint_auth_method": auth_method,
        "grant_types": list(dict.fromkeys(grant_types)),
        "response_types": response_types,
    }
    if (scope := body.get("scope")) is not None:
        if not isinstance(scope, str) or not set(scope_to_list(scope)) <= set(SUPPORTED_SCOPES):
            raise InvalidClientMetadataError(f"'scope' may hold only: {' '.join(SUPPORTED_SCOPES)}.")
        if scope.strip():
            metadata["scope"] = " ".join(dict.fromkeys(scope_to_list(scope)))
    for field in ("client_name", "client_uri", "software_id", "software_version"):
        value = body.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH or not value.isprintable():
            raise InvalidClientMetadataError(
                f"'{field}' must be a printable string of at most {MAX_TEXT_LENGTH} characters."
            )
        metadata[field] = value.strip()
    return metadata


def _string_list(body: dict[str, Any], field: str, default: list[str]) -> list[str]:
    value = body.get(field, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadataError(f"'{field}' must be a non-empty array of strings.")
    return value


def register_client(db: Session, metadata: dict[str, Any]) -> tuple[OAuthClient, str | None]:
    """Store a new client; returns it and its secret (None for public clients), shown only once."""
    public = metadata["token_endpoint_auth_method"] == "none"  # noqa: S105 (an auth method name)
    secret = None if public else new_secret()
    row = OAuthClient(
        client_id=secrets.token_urlsafe(16),
        client_secret_hash=secret_hash(secret) if secret else None,
        source="dcr",
        client_metadata=metadata,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    return row, secret


def registration_response_body(row: OAuthClient, secret: str | None) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 response: the registered metadata plus the server-minted values."""
    body: dict[str, Any] = {
        "client_id": row.client_id,
        "client_id_issued_at": int(row.created_at.timestamp()) if row.created_at else int(time.time()),
        **row.client_metadata,
    }
    if secret is not None:
        body["client_secret"] = secret
        body["client_secret_expires_at"] = 0
    return body
