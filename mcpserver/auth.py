"""Bearer-token verification for the MCP endpoint.

The MCP server learns signing keys only from the issuer's JWKS, as any resource server
would: it never imports the authorization server. Keys are cached; an unknown ``kid``
triggers at most one refetch (single flight, with a cooldown), and the last good key set
is kept when the issuer cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx
from joserfc import jwt
from joserfc.errors import InvalidClaimError, JoseError, MissingClaimError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from mcp.server.auth.provider import AccessToken

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256", "EdDSA"]
"""Asymmetric algorithms only: ``none`` and HMAC (signed with a public key) never verify."""

FORBIDDEN_HEADERS = ("jku", "jwk", "x5u", "x5c")
"""Headers that would let a token name its own key."""

LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The token cannot be accepted; the message is safe to show the client."""


@dataclass
class _Cached:
    keys: KeySet
    fetched_at: float


class JWKSCache:
    """The issuer's public keys, discovered from its RFC 8414 metadata."""

    def __init__(self, issuer: str, http: httpx.AsyncClient, *, max_age: float = 300, refetch_cooldown: float = 10):
        self.issuer = issuer
        self._http = http
        self._max_age = max_age
        self._cooldown = refetch_cooldown
        self._cached: _Cached | None = None
        self._jwks_uri: str | None = None
        self._lock = asyncio.Lock()
        self._last_attempt = 0.0

    @property
    def loaded(self) -> bool:
        return self._cached is not None

    async def keys(self) -> KeySet:
        cached = self._cached
        if cached is None or time.monotonic() - cached.fetched_at > self._max_age:
            await self._refresh(force=cached is None)
        if self._cached is None:
            raise InvalidToken("the authorization server's keys are not available")
        return self._cached.keys

    async def refresh_for_unknown_kid(self) -> None:
        """Refetch once for a key we have not seen; rate limited so bad tokens cannot hammer the issuer."""
        await self._refresh(force=False)

    async def _refresh(self, *, force: bool) -> None:
        started = time.monotonic()
        async with self._lock:
            # Someone else refreshed while we waited: single flight.
            if self._cached is not None and self._cached.fetched_at >= started:
                return
            if not force and time.monotonic() - self._last_attempt < self._cooldown:
                return
            self._last_attempt = time.monotonic()
            try:
                self._cached = _Cached(await self._fetch(), time.monotonic())
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                # Keep the last good set: an issuer outage must not take the resource server down.
                logger.warning("jwks.fetch_failed", extra={"issuer": self.issuer, "error": type(exc).__name__})

    async def _fetch(self) -> KeySet:
        if self._jwks_uri is None:
            response = await self._http.get(f"{self.issuer}/.well-known/oauth-authorization-server")
            response.raise_for_status()
            metadata = response.json()
            if metadata.get("issuer") != self.issuer:
                raise ValueError("issuer mismatch in authorization server metadata")
            self._jwks_uri = metadata["jwks_uri"]
        response = await self._http.get(self._jwks_uri)
        response.raise_for_status()
        return KeySet.import_key_set(response.json())


class JWTVerifier:
    """Verifies RFC 9068 access tokens issued for this resource."""

    def __init__(self, jwks: JWKSCache, *, issuer: str, resource: str):
        self.jwks = jwks
        self.issuer = issuer
        self.resource = resource
        self._claims = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": resource},
            sub={"essential": True},
            exp={"essential": True},
            # RFC 9068 requires iat; revocations ("tokens issued before …") are decided by it.
            iat={"essential": True},
        )

    async def verify(self, token: str) -> AccessToken:
        header = _header(token)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token has no key id")
        keys = await self.jwks.keys()
        if not _has_kid(keys, kid):
            await self.jwks.refresh_for_unknown_kid()
            keys = await self.jwks.keys()
            if not _has_kid(keys, kid):
                raise InvalidToken("token signed with an unknown key")
        try:
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            self._claims.validate(decoded.claims)
        except JoseError as exc:
            raise InvalidToken(_describe(exc)) from None
        claims = decoded.claims
        scope = claims.get("scope", "")
        client_id = claims.get("client_id")
        if not isinstance(scope, str) or not isinstance(client_id, str):
            raise InvalidToken("token lacks scope or client_id")
        return AccessToken(
            token=token,
            client_id=client_id,
            scopes=scope.split(),
            expires_at=int(claims["exp"]),
            resource=self.resource,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"], "iat": claims.get("iat"), "jti": claims.get("jti")},
        )


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _header(token: str) -> dict[str, object]:
    try:
        header = dict(extract_compact(token.encode()).headers())
    except (ValueError, JoseError):
        raise InvalidToken("malformed token") from None
    typ = str(header.get("typ", "")).lower()
    if typ not in ("at+jwt", "application/at+jwt"):
        raise InvalidToken("token is not an access token (typ must be at+jwt)")
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise InvalidToken("token names its own key")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("token algorithm not allowed")
    return header


_CLAIM_PROBLEMS = {
    "aud": "token issued for another resource",
    "iss": "token issued by another authorization server",
    "iat": "token issued in the future",
}


def _describe(exc: JoseError) -> str:
    if isinstance(exc, MissingClaimError):
        return f"token lacks the {exc.claim} claim"
    if isinstance(exc, InvalidClaimError):
        return _CLAIM_PROBLEMS.get(exc.claim, f"token has an invalid {exc.claim} claim")
    return {
        "ExpiredTokenError": "token expired",
        "InvalidTokenError": "token not yet valid",
        "BadSignatureError": "bad signature",
    }.get(type(exc).__name__, "invalid token")
