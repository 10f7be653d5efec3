"""What the web library's handlers share (:class:`Library`), and how a request reaches it.

Kept apart from :mod:`mcpserver.web.app` so route modules can import it without a cycle;
``app`` re-exports ``library`` and ``app_context``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request

from mcpserver.auth import JWTVerifier
from mcpserver.context import AppContext
from mcpserver.ratelimit import RateLimiter
from mcpserver.revocation import RevocationCheck
from shared.settings import Settings

if TYPE_CHECKING:
    from mcpserver.web.session import SessionStore


@dataclass
class Library:
    """Built once per process by :func:`mcpserver.web.app.create_web_app`."""

    settings: Settings
    context: AppContext
    http: httpx.AsyncClient
    verifier: JWTVerifier
    revocations: RevocationCheck
    sessions: SessionStore
    client_secret: str | None
    limiter: RateLimiter  # the MCP server's: one budget per user for tools and pages
    _metadata: dict[str, Any] | None = field(default=None, repr=False)

    async def issuer_metadata(self) -> dict[str, Any]:
        """The authorization server's RFC 8414 metadata (its endpoints), fetched once."""
        if self._metadata is None:
            response = await self.http.get(f"{self.settings.issuer_url}/.well-known/oauth-authorization-server")
            response.raise_for_status()
            metadata = response.json()
            if metadata.get("issuer") != self.settings.issuer_url:
                raise ValueError("issuer mismatch in authorization server metadata")
            self._metadata = metadata
        return self._metadata


def library(request: Request) -> Library:
    lib: Library = request.scope["web_library"]
    return lib


def app_context(request: Request) -> AppContext:
    """The MCP server's context: settings, database sessions (``transaction(caller)``), change feed."""
    return library(request).context
