"""The authorization server as an ASGI app: routes, middleware and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from authlib.common.security import is_secure_transport
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from authserver.context import AuthContext
from authserver.endpoints.authorize import authorize
from authserver.endpoints.client_configuration import client_configuration
from authserver.endpoints.introspection import introspect
from authserver.endpoints.jwks import jwks
from authserver.endpoints.metadata import metadata
from authserver.endpoints.registration import register
from authserver.endpoints.revocation import revoke
from authserver.endpoints.token import token
from authserver.keys import SigningKeys
from authserver.middleware import DefaultHeadersMiddleware, PathCORSMiddleware, UnavailableMiddleware
from authserver.openapi import openapi
from authserver.passwords import hashing_slots
from authserver.sessions import Cookies
from authserver.tokens import TokenIssuer
from authserver.web.account import ROUTES as account_routes
from authserver.web.consent import consent
from authserver.web.login import login
from authserver.web.pages import STATIC, Pages
from authserver.web_client import provision_web_client
from shared.db import PoolLimits, make_engine, pool_in_use, session_factory
from shared.metrics import MetricsMiddleware
from shared.request_ids import RequestIdMiddleware
from shared.settings import Settings, get_settings

METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
CORS_PATHS = (*METADATA_PATHS, "/register", "/token", "/revoke", "/jwks")
PAGE_PATHS = ("/authorize", "/login", "/consent", "/account")
"""Paths answered with HTML pages (so an outage there is a page too)."""

# Authlib's grants log whole token responses at DEBUG ("Issue token %r"): never let them through.
logging.getLogger("authlib").setLevel(logging.INFO)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; the database and key-encryption key are first touched in the lifespan."""
    settings = settings or get_settings()
    if not is_secure_transport(settings.issuer_url):
        raise ValueError(f"the issuer {settings.issuer_url} must be https (plain http only on loopback)")
    engine = make_engine(settings.auth_db_url, limits=PoolLimits.of(settings))
    db = session_factory(engine)
    keys = SigningKeys(db, settings)
    ctx = AuthContext(
        settings=settings,
        engine=engine,
        db=db,
        keys=keys,
        tokens=TokenIssuer(settings, keys),
        pages=Pages(settings.issuer_url),
        cookies=Cookies.for_settings(settings),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.password_slots = hashing_slots(ctx.settings.password_hash_concurrency)
        await run_in_threadpool(keys.ensure_active_key)
        await provision_web_client(ctx)  # the web library's sign-in client (authserver.web_client)
        ctx.metrics.start(settings.metrics_host, settings.auth_metrics_port)
        try:
            yield
        finally:
            ctx.metrics.stop()
            engine.dispose()

    routes = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi),
        *(Route(path, metadata) for path in METADATA_PATHS),
        Route("/jwks", jwks),
        Route("/register", register, methods=["POST"]),
        Route("/authorize", authorize, methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/consent", consent, methods=["GET", "POST"]),
        *account_routes,
        Route("/token", token, methods=["POST"]),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/introspect", introspect, methods=["POST"]),
        Route("/register/{client_id}", client_configuration, methods=["GET", "PUT", "DELETE"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    ctx.metrics.watch_pool(lambda: pool_in_use(engine))
    middleware = [
        Middleware(RequestIdMiddleware),  # outermost: every log line of the request carries its id
        Middleware(MetricsMiddleware, metrics=ctx.metrics, routes=lambda: routes),
        Middleware(DefaultHeadersMiddleware),
        Middleware(PathCORSMiddleware, paths=CORS_PATHS),
        Middleware(UnavailableMiddleware, pages=ctx.pages, timeout=settings.request_timeout, html_paths=PAGE_PATHS),
    ]
    app = Starlette(
        routes=routes, middleware=middleware, lifespan=lifespan, max_body_size=settings.auth_max_request_bytes
    )
    app.state.ctx = ctx
    return app
