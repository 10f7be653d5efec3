"""Bearer-token verification for the MCP endpoint.

The MCP server learns signing keys only from the issuer's JWKS, as any resource server
would: it never imports the authorization server. Keys are cached; an unknown ``kid``
triggers at most one refetch (single flight, with a cooldown), and the last good key set
is kept when the issuer cannot be reached. Verified tokens are remembered for a while
(``JWTVerifier``), so a client reusing its token pays for the signature check once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

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
    published: dict[str, str] = field(init=False)
    """kid → the public key material under it, so cached verifications can tell a kept key from a replaced one."""

    def __post_init__(self) -> None:
        by_kid: dict[str, list[str]] = {}
        for key in self.keys.keys:
            if key.kid is not None:
                by_kid.setdefault(key.kid, []).append(json.dumps(key.as_dict(private=False), sort_keys=True))
        self.published = {kid: "\n".join(sorted(material)) for kid, material in by_kid.items()}


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

    @property
    def max_age(self) -> float:
        return self._max_age

    def published_key(self, kid: str) -> str | None:
        """The key material the current set publishes under ``kid`` (None if the kid is gone)."""
        return self._cached.published.get(kid) if self._cached is not None else None

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


@dataclass(frozen=True, slots=True)
class _Verified:
    """A successful verification, reusable while all of its conditions still hold."""

    access: AccessToken
    kid: str
    key: str
    """The key material that verified the signature (``JWKSCache.published_key``)."""
    exp: float
    reuse_until: float
    """``time.monotonic()`` deadline: the JWKS max age after verification."""


class JWTVerifier:
    """Verifies RFC 9068 access tokens issued for this resource.

    Successful verifications are cached by the exact token string: the returned
    ``AccessToken`` carries the token text anyway, so a digest would save no memory, and exact
    string equality means a token differing in any character (a tampered signature) misses.
    An entry is served only while the token has not expired (the same leeway rule as a full
    check), for at most the JWKS max age, and while the key set still publishes the same key
    material under its ``kid`` (a removed or replaced key is noticed as soon as the JWKS is
    refetched, as without the cache); otherwise the token is verified again from scratch, so
    every refusal is the one a full check gives. Failures are never cached. Revocation is not
    decided here: the gate checks it on every request.
    """

    MAX_CACHED = 10_000
    """Bound on cached verifications. Only tokens the issuer signed get in, but expired ones
    leave only when looked up or evicted, so without a bound the cache would grow with every
    token ever seen. When full the oldest entry goes: tokens have similar lifetimes, so it is
    about the nearest to expiry, and evicting a live one costs one more signature check.
    An entry is about 3 KB (mostly the token text), so a full cache is about 30 MB."""

    def __init__(self, jwks: JWKSCache, *, issuer: str, resource: str, max_cached: int = MAX_CACHED):
        self.jwks = jwks
        self.issuer = issuer
        self.resource = resource
        self.max_cached = max_cached
        self._verified: dict[str, _Verified] = {}
        self._claims = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": resource},
            sub={"essential": True},
            exp={"essential": True},
            # RFC 9068 requires iat; revocations ("tokens issued before …") are decided by it.
            iat={"essential": True},
        )

    @property
    def cached(self) -> int:
        """How many verifications are cached."""
        return len(self._verified)

    async def verify(self, token: str) -> AccessToken:
        known = self._verified.get(token)
        if known is not None:
            if await self._still_valid(known):
                return known.access
            self._verified.pop(token, None)
        access, kid, exp = await self._verify(token)
        # No await since the key set used was read, so published_key describes that set.
        key = self.jwks.published_key(kid)
        if key is not None and self.max_cached > 0:
            while len(self._verified) >= self.max_cached:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = _Verified(access, kid, key, exp, time.monotonic() + self.jwks.max_age)
        return access

    async def _still_valid(self, known: _Verified) -> bool:
        await self.jwks.keys()  # refetches when the set is older than its max age, as a full check would
        return (
            time.monotonic() < known.reuse_until
            # joserfc's rule (ExpiredTokenError): expired once exp <= now - leeway, now in whole seconds.
            and known.exp > int(time.time()) - LEEWAY_SECONDS
            and self.jwks.published_key(known.kid) == known.key
        )

    async def _verify(self, token: str) -> tuple[AccessToken, str, float]:
        """The full check: header, key, signature and claims; the token, its kid and its exp."""
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
        access = AccessToken(
            token=token,
            client_id=client_id,
            scopes=scope.split(),
            expires_at=int(claims["exp"]),
            resource=self.resource,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"], "iat": claims.get("iat"), "jti": claims.get("jti")},
        )
        return access, kid, claims["exp"]  # as signed: float() would overflow on a huge int


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
