"""The MCP server's ASGI app: metadata, health, and the MCP endpoint behind its guards.

Request path through the endpoint, outermost first: Host/Origin allow-lists
(``browsers``), CORS for allowed browser origins, the token gate (``gate``: token,
revocations, scopes), then the SDK (stateless streamable HTTP, JSON responses; a POST of one
request goes straight to its kernel, ``single_request``), whose
server middleware (``calls``) rate-limits and logs each request before the tools and
resources run against the repository layer.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from mcpserver import completion, prompts, resources
from mcpserver.auth import JWKSCache, JWTVerifier
from mcpserver.browsers import HostOriginGuard, transport_security, with_cors
from mcpserver.calls import CallMiddleware
from mcpserver.context import AppContext
from mcpserver.database import make_mcp_engine
from mcpserver.docs import docs_route
from mcpserver.gate import BearerGate
from mcpserver.logshipping import LogShipper
from mcpserver.metadata import metadata_routes
from mcpserver.ratelimit import RateLimiter
from mcpserver.revocation import RevocationCheck
from mcpserver.single_request import SingleRequestPath
from mcpserver.skills.extension import SkillsExtension
from mcpserver.tools import TOOL_BUCKETS, TOOL_SCOPES, register_all
from mcpserver.web.app import create_web_app
from shared.db import async_session_factory, pool_in_use
from shared.metrics import Metrics, MetricsMiddleware
from shared.request_ids import RequestIdMiddleware
from shared.settings import Settings, get_settings

INSTRUCTIONS = (
    "shared-skills is your team's library of prompts and snippets. "
    "list_workspaces shows where you can save and read; search_snippets finds snippets by words (best match "
    "first) and list_snippets lists them (newest first); get_snippet reads one (any version); render_snippet "
    "fills in its {{variables}}; save_snippet creates or updates one (pass expected_version when updating, "
    "and an idempotency_key to retry safely); list_snippet_versions, diff_snippet_versions and "
    "restore_snippet_version work with its history. Every snippet is also a prompt. Errors start with their "
    "kind: not found, permission denied, invalid <field>, conflict, rate limited."
)

PRIVATE = CacheHint(ttl_ms=0, scope="private")
SHARED = CacheHint(ttl_ms=300_000, scope="public")
CACHE_HINTS = {
    # Per-user answers: never shared between users (2026-07-28 cacheScope).
    "resources/list": PRIVATE,
    "resources/read": PRIVATE,
    "prompts/list": PRIVATE,
    # The same for everyone.
    "tools/list": SHARED,
    "resources/templates/list": SHARED,
    "server/discover": SHARED,
}


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    logging.getLogger("mcpserver").setLevel(settings.log_level)
    engine = make_mcp_engine(settings)
    sessions = async_session_factory(engine)
    context = AppContext(settings=settings, sessions=sessions)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
    jwks = JWKSCache(
        settings.issuer_url, http, max_age=settings.jwks_cache_seconds, refetch_cooldown=settings.jwks_refetch_cooldown
    )
    verifier = JWTVerifier(jwks, issuer=settings.issuer_url, resource=settings.resource_url)
    limiter = RateLimiter(
        sessions, {"read": settings.rate_limit_reads_per_minute, "write": settings.rate_limit_writes_per_minute}
    )

    metrics = Metrics("mcpserver")
    metrics.watch_pool(lambda: pool_in_use(engine.sync_engine))
    skills = SkillsExtension(context)  # the library as Agent Skills (SEP-2640)
    server = MCPServer(
        name="shared-skills",
        instructions=INSTRUCTIONS,
        version="0.1.0",
        cache_hints=CACHE_HINTS,  # type: ignore[arg-type]
        middleware=[CallMiddleware(limiter, TOOL_BUCKETS, metrics, timeout=settings.request_timeout)],
        subscriptions=context.changes,  # subscriptions/listen streams, per user (mcpserver.changes)
        extensions=[skills],
    )
    register_all(server, context)
    resources.register(server, context, readers={"skill": skills.read_resource})
    prompts.register(server, context)
    completion.register(server, context)
    security = transport_security(settings)
    revocations = RevocationCheck(sessions, ttl=settings.revocation_check_seconds)
    server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=security,
        max_request_body_size=settings.mcp_max_request_bytes,
    )
    manager = server.session_manager
    sdk_app: ASGIApp = StreamableHTTPASGIApp(manager)
    if settings.mcp_single_request_path:  # one request per POST, without the per-request transport
        sdk_app = SingleRequestPath(sdk_app, manager)
    gate = BearerGate(
        sdk_app,
        verifier,
        revocations,
        resource_metadata_url=settings.resource_metadata_url,
        tool_scopes=lambda: TOOL_SCOPES,
        max_body_size=settings.mcp_max_request_bytes,
        metrics=metrics,
    )
    endpoint = HostOriginGuard(with_cors(gate, security), security)
    # The web library: the same repository and revocation rules, behind its own sign-in.
    web = create_web_app(settings, context, http, verifier, revocations, limiter)

    async def healthz(request: Request) -> JSONResponse:
        """The process is up (liveness)."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Ready for traffic: the database answers and the issuer's keys are loaded."""
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
        await _check_search_index(engine)
        metrics.start(settings.metrics_host, settings.mcp_metrics_port)
        shipper = LogShipper(settings.log_endpoint) if settings.log_endpoint else None
        if shipper is not None:
            shipper.start()
            logging.getLogger().addHandler(shipper)
        async with server.session_manager.run():
            try:
                yield
            finally:
                if shipper is not None:
                    logging.getLogger().removeHandler(shipper)
                    shipper.close()
                metrics.stop()
                await http.aclose()
                await limiter.close()  # counts written behind calls
                await engine.dispose()

    mcp_path = urlsplit(settings.resource_url).path or "/mcp"
    routes = [
        *metadata_routes(settings),
        docs_route(server, settings),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route(mcp_path, endpoint, methods=["GET", "POST", "DELETE", "OPTIONS"]),
        Route(mcp_path + "/", endpoint, methods=["GET", "POST", "DELETE", "OPTIONS"]),
        Mount(settings.web_path, app=web),
    ]
    middleware = [
        Middleware(RequestIdMiddleware),  # outermost: every log line of the request carries its id
        Middleware(MetricsMiddleware, metrics=metrics, routes=lambda: routes),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.metrics = metrics
    return app


async def _check_search_index(engine: AsyncEngine) -> None:
    """Warn when Postgres cannot use the search index under RLS (see migration 0004): a restored
    database loses the LEAKPROOF mark on ``tsvector @@ tsquery``, and search still works, slowly."""
    if engine.dialect.name != "postgresql":
        return
    try:
        async with engine.connect() as conn:
            leakproof = await conn.scalar(
                text("select proleakproof from pg_proc where oid = 'ts_match_vq(tsvector,tsquery)'::regprocedure")
            )
    except Exception:
        return  # the database is not up yet: /readyz says so
    if not leakproof:
        logging.getLogger("mcpserver").warning(
            "mcp.search_index_unused: ts_match_vq is not LEAKPROOF in this database, so searches under row-level "
            "security scan the whole snippets table; as a superuser run: alter function "
            "pg_catalog.ts_match_vq(tsvector, tsquery) leakproof"
        )
