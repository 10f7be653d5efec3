"""What browsers may do with the MCP endpoint: the Host/Origin allow-lists and CORS.

The Host and Origin checks (DNS rebinding) run first, before the token gate, so a page
on a foreign origin learns nothing, not even a challenge. Origins on the allow-list get
CORS, on the 401 challenge too (exposing ``WWW-Authenticate`` so that browser-based
clients such as the Inspector can find the resource metadata), and on preflights.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.settings import Settings

EXPOSED_HEADERS = ["WWW-Authenticate", "Mcp-Session-Id", "Mcp-Protocol-Version", "X-Request-Id"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin allow-lists against DNS rebinding; default: the resource URL's own.

    Entries may end in ``:*`` for any port (``http://localhost:*``).
    """
    parts = urlsplit(settings.resource_url)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=settings.mcp_allowed_hosts or [parts.netloc],
        allowed_origins=settings.mcp_allowed_origins or [f"{parts.scheme}://{parts.netloc}"],
    )


class HostOriginGuard:
    """421 for a Host, 403 for an Origin outside the allow-lists (the SDK's rules, applied first)."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings):
        self.app = app
        self._checker = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = await self._checker.validate_request(Request(scope), is_post=False)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def with_cors(app: ASGIApp, security: TransportSecuritySettings) -> ASGIApp:
    """CORS for the allowed origins: any request header, the challenge and session headers exposed."""
    exact = [o for o in security.allowed_origins if not o.endswith(":*")]
    any_port = [re.escape(o[:-2]) + r":\d+" for o in security.allowed_origins if o.endswith(":*")]
    return CORSMiddleware(
        app,
        allow_origins=exact,
        allow_origin_regex="|".join(any_port) or None,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["*"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
