"""The public signing keys (RFC 7517 JWK Set) resource servers verify access tokens with."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from authserver.context import AuthContext


async def jwks(request: Request) -> JSONResponse:
    ctx: AuthContext = request.app.state.ctx
    keys = await run_in_threadpool(ctx.keys.published_jwks)
    cache = f"public, max-age={ctx.settings.jwks_cache_seconds}"
    return JSONResponse(keys, headers={"Cache-Control": cache}, media_type="application/jwk-set+json")
