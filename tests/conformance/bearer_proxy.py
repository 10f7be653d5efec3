"""A loopback reverse proxy that adds ``Authorization: Bearer <token>`` to every request.

The conformance suite's ``server`` command has no authentication option, and the MCP
endpoint refuses anonymous requests (as it must), so the suite talks to this proxy and the
proxy talks to the server with a real token from the stand-in issuer. Bodies stream through
in both directions, so server-sent event streams work too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}


class BearerProxy:
    def __init__(self, upstream: str, token: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"authorization"}}
        headers["authorization"] = f"Bearer {self.token}"
        client = httpx2.AsyncClient(timeout=httpx2.Timeout(60.0))
        upstream = client.build_request(
            request.method,
            self.upstream + request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        answer = await client.send(upstream, stream=True)

        async def body() -> AsyncIterator[bytes]:
            async for chunk in answer.aiter_raw():
                yield chunk

        async def close() -> None:
            await answer.aclose()
            await client.aclose()

        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
        response = StreamingResponse(body(), answer.status_code, kept, background=BackgroundTask(close))
        await response(scope, receive, send)
