"""What the token endpoint hands out: RFC 9068 JWT access tokens and opaque refresh tokens.

Authlib's JWT generator sets ``aud`` to the client id (it has no RFC 8707 support), so tokens
are built here: ``aud`` is the resource the grant is bound to, the one the MCP server checks.
Access tokens are signed by the key that is active at that moment (looked up in the same
transaction, so a rotation by another process is followed at once).

Refresh tokens are random strings stored hashed, each in a rotation family that shares one
absolute expiry (``refresh_token_family_lifetime``), so sliding renewals cannot keep a grant
alive forever. The token that replaces a refresh token on rotation is not random but derived
from it (HMAC under a key derived from the KEK): presenting the old token again within the
grace window yields the very same successor, although only hashes are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from authserver.hashing import new_secret, secret_hash
from authserver.keys import SigningKeys
from shared.models import RefreshToken, utcnow
from shared.settings import Settings

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (the RFC 9068 JWT type, not a secret)


@dataclass(frozen=True)
class GrantBinding:
    """What a token request is bound to: the audience, and the family its refresh tokens join."""

    resource: str
    family_id: uuid.UUID
    family_expires_at: datetime | None = None  # None: a new family starts now
    #: the refresh token to hand out (a rotation's successor); None: a new random one
    refresh_token: str | None = None
    #: True when ``refresh_token`` is already stored (handed out again within the grace window)
    refresh_token_stored: bool = False


class TokenIssuer:
    def __init__(self, settings: Settings, keys: SigningKeys) -> None:
        self._settings = settings
        self._keys = keys

    def access_token(self, db: Session | None, *, client_id: str, user_id: uuid.UUID, scope: str, resource: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._settings.issuer_url,
            "sub": str(user_id),
            "aud": resource,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.access_token_ttl,
            "jti": uuid.uuid4().hex,
        }
        return self._keys.active(db).sign(claims, typ=ACCESS_TOKEN_TYPE)

    def token_response(
        self,
        db: Session | None,
        *,
        client_id: str,
        user_id: uuid.UUID,
        scope: str,
        binding: GrantBinding,
        include_refresh_token: bool,
    ) -> dict[str, Any]:
        """The RFC 6749 §5.1 response body (the refresh token is stored by :meth:`store_refresh_token`)."""
        access_token = self.access_token(
            db, client_id=client_id, user_id=user_id, scope=scope, resource=binding.resource
        )
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": access_token,
            "expires_in": self._settings.access_token_ttl,
            "scope": scope,
        }
        if include_refresh_token:
            token["refresh_token"] = binding.refresh_token or new_secret()
        return token

    def successor_of(self, refresh_token: str) -> str:
        """The refresh token that replaces ``refresh_token`` on rotation (always the same one)."""
        key = self._keys.derived_secret("refresh token successor")
        digest = hmac.new(key, refresh_token.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def store_refresh_token(
        self, db: Session, *, token: str, client_id: str, user_id: uuid.UUID, scope: str, binding: GrantBinding
    ) -> RefreshToken:
        now = utcnow()
        family_lifetime = timedelta(seconds=self._settings.refresh_token_family_lifetime)
        family_expires_at = binding.family_expires_at or now + family_lifetime
        row = RefreshToken(
            token_hash=secret_hash(token),
            family_id=binding.family_id,
            client_id=client_id,
            user_id=user_id,
            scope=scope,
            resource=binding.resource,
            created_at=now,
            expires_at=min(now + timedelta(seconds=self._settings.refresh_token_ttl), family_expires_at),
            family_expires_at=family_expires_at,
        )
        db.add(row)
        return row
