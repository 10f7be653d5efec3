"""The MCP server's ASGI app: metadata, health, and the gated MCP endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcpserver.auth import JWKSCache, JWTVerifier
from mcpserver.context import AppContext
from mcpserver.gate import BearerGate
from mcpserver.metadata import metadata_routes
from mcpserver.tools import TOOL_SCOPES, register_all
from shared.db import async_session_factory, make_async_engine
from shared.settings import Settings, get_settings

INSTRUCTIONS = (
    "shared-skills is your team's library of prompts and snippets. "
    "Use list_workspaces to see where you can save and read snippets."
)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host and Origin allow-lists against DNS rebinding; default: the resource URL's own."""
    parts = urlsplit(settings.resource_url)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=settings.mcp_allowed_hosts or [parts.netloc],
        allowed_origins=settings.mcp_allowed_origins or [f"{parts.scheme}://{parts.netloc}"],
    )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    engine = make_async_engine(
        settings.mcp_db_url, postgres_driver=settings.postgres_driver, pool_size=settings.db_pool_size
    )
    context = AppContext(settings=settings, sessions=async_session_factory(engine))
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
    jwks = JWKSCache(
        settings.issuer_url, http, max_age=settings.jwks_cache_seconds, refetch_cooldown=settings.jwks_refetch_cooldown
    )
    verifier = JWTVerifier(jwks, issuer=settings.issuer_url, resource=settings.resource_url)

    server = MCPServer(name="shared-skills", instructions=INSTRUCTIONS, version="0.1.0")
    register_all(server, context)
    server.streamable_http_app(stateless_http=True, json_response=True, transport_security=transport_security(settings))
    endpoint = BearerGate(
        StreamableHTTPASGIApp(server.session_manager),
        verifier,
        resource_metadata_url=settings.resource_metadata_url,
        tool_scopes=lambda: TOOL_SCOPES,
    )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        problems = []
        try:
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        except Exception:
            problems.append("database unreachable")
        if not jwks.loaded:
            await jwks.refresh_for_unknown_kid()
            if not jwks.loaded:
                problems.append("signing keys not loaded")
        status = 503 if problems else 200
        return JSONResponse({"status": "ok" if not problems else "unavailable", "problems": problems}, status)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            try:
                yield
            finally:
                await http.aclose()
                await engine.dispose()

    mcp_path = urlsplit(settings.resource_url).path or "/mcp"
    routes = [
        *metadata_routes(settings),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(mcp_path, endpoint, methods=["GET", "POST", "DELETE", "OPTIONS"]),
        Route(mcp_path + "/", endpoint, methods=["GET", "POST", "DELETE", "OPTIONS"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
