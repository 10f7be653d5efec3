"""A token presented back to us (revocation, introspection): which of ours it is, and whether it still counts.

Access tokens are JWTs: one is ours only if it verifies against our published keys with our
issuer and the RFC 9068 type, so a forged token cannot make us revoke someone's grant. It
no longer counts when its account is disabled, or when ``users.tokens_valid_after`` or a
``grant_revocations`` row for its user and client is later than its ``iat`` — the same
rules the MCP server applies. Refresh tokens are found by their hash; a rotated one no
longer counts (even within the grace window, where it only repeats its successor).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import TokenMixin
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from authserver.hashing import secret_hash
from authserver.tokens import ACCESS_TOKEN_TYPE
from shared.models import GrantRevocation, RefreshToken, User, utcnow

if TYPE_CHECKING:
    from authserver.context import AuthContext

MAX_TOKEN_LENGTH = 8192
TOKEN_TYPE_HINTS = ("access_token", "refresh_token")


@dataclass(frozen=True)
class IssuedToken(TokenMixin):
    """One of our tokens, as Authlib's revocation and introspection endpoints read it."""

    kind: str  # access_token | refresh_token
    user_id: uuid.UUID
    client_id: str
    scope: str
    audience: str
    issued_at: int
    expires_at: int
    revoked: bool
    jti: str | None = None

    def check_client(self, client: Any) -> bool:
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(utcnow().timestamp()))

    def is_expired(self) -> bool:
        return self.expires_at <= int(utcnow().timestamp())

    def is_revoked(self) -> bool:
        return self.revoked


def find_issued_token(db: Session, ctx: AuthContext, token: str, hint: str | None) -> IssuedToken | None:
    """The token if it is one of ours (the hint only decides which kind is tried first)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    readers = [_access_token, _refresh_token]
    if hint == "refresh_token":
        readers.reverse()
    for reader in readers:
        if (found := reader(db, ctx, token)) is not None:
            return found
    return None


def _access_token(db: Session, ctx: AuthContext, token: str) -> IssuedToken | None:
    if token.count(".") != 2:
        return None
    jwks = ctx.keys.published_jwks()
    algorithms = sorted({key["alg"] for key in jwks["keys"]})
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=algorithms)  # type: ignore[arg-type]
        claims = decoded.claims
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE or claims.get("iss") != ctx.settings.issuer_url:
            return None
        user_id = uuid.UUID(str(claims["sub"]))
        client_id, issued_at, expires_at = str(claims["client_id"]), int(claims["iat"]), int(claims["exp"])
    except (JoseError, ValueError, TypeError, KeyError):
        return None
    return IssuedToken(
        kind="access_token",
        user_id=user_id,
        client_id=client_id,
        scope=str(claims.get("scope", "")),
        audience=str(claims.get("aud", "")),
        issued_at=issued_at,
        expires_at=expires_at,
        revoked=_access_revoked(db, user_id, client_id, issued_at),
        jti=str(claims.get("jti")) if claims.get("jti") else None,
    )


def _access_revoked(db: Session, user_id: uuid.UUID, client_id: str, issued_at: int) -> bool:
    user = db.get(User, user_id)
    if user is None or user.disabled_at is not None:
        return True
    if user.tokens_valid_after is not None and issued_at < user.tokens_valid_after.timestamp():
        return True
    revocation = db.get(GrantRevocation, (user_id, client_id))
    return revocation is not None and issued_at < revocation.not_before.timestamp()


def _refresh_token(db: Session, ctx: AuthContext, token: str) -> IssuedToken | None:
    row = db.scalars(select(RefreshToken).where(RefreshToken.token_hash == secret_hash(token))).one_or_none()
    if row is None:
        return None
    user = db.get(User, row.user_id)
    revoked = row.revoked_at is not None or row.rotated_at is not None or user is None or user.disabled_at is not None
    return IssuedToken(
        kind="refresh_token",
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        audience=row.resource,
        issued_at=int(row.created_at.timestamp()),
        expires_at=int(min(row.expires_at, row.family_expires_at).timestamp()),
        revoked=revoked,
    )
