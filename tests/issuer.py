"""A stand-in authorization server: RFC 8414 metadata and a JWKS, and a token minter.

The MCP server must work with any issuer that publishes JWKS; tests of the resource
server use this one so that they can mint any token they need, good or bad.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.settings import SCOPES
from tests.asgi_server import serve_in_thread

ALL_SCOPES = " ".join(SCOPES)


@dataclass
class StandInIssuer:
    url: str
    key: RSAKey
    published: list[dict[str, Any]] = field(default_factory=list)
    jwks_requests: int = 0
    seen_headers: list[dict[str, str]] = field(default_factory=list)
    """Headers of every request the issuer received (to prove no token is ever forwarded)."""

    def token(
        self,
        resource: str,
        subject: uuid.UUID | str,
        *,
        scope: str = ALL_SCOPES,
        header: dict[str, Any] | None = None,
        key: Any = None,
        **claims: Any,
    ) -> str:
        """An access token as our authorization server would issue it; ``claims`` override (None removes)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "sub": str(subject),
            "aud": resource,
            "client_id": "test-client",
            "scope": scope,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        body.update(claims)
        head: dict[str, Any] = {"alg": "RS256", "typ": "at+jwt", "kid": self.key.kid}
        head.update(header or {})
        return jwt.encode(
            {k: v for k, v in head.items() if v is not None},
            {k: v for k, v in body.items() if v is not None},
            key or self.key,
        )


@contextmanager
def stand_in_issuer() -> Iterator[StandInIssuer]:
    key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    issuer = StandInIssuer(url="", key=key, published=[key.as_dict(private=False)])

    async def metadata(request: Request) -> JSONResponse:
        issuer.seen_headers.append(dict(request.headers))
        return JSONResponse({"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"})

    async def jwks(request: Request) -> JSONResponse:
        issuer.seen_headers.append(dict(request.headers))
        issuer.jwks_requests += 1
        return JSONResponse({"keys": issuer.published})

    app = Starlette(routes=[Route("/.well-known/oauth-authorization-server", metadata), Route("/jwks", jwks)])
    with serve_in_thread(app) as url:
        issuer.url = url
        yield issuer
