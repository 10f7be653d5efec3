"""What applies by path rather than per endpoint: CORS, response defaults, and 503 for requests
the database cannot serve in time."""

from __future__ import annotations

import logging
import math
from collections.abc import Collection

import anyio
from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authserver.web.pages import Pages
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable

logger = logging.getLogger("authserver")


class PathCORSMiddleware:
    """CORS for the listed paths only: browser-based clients need it on metadata, /register,
    /token and /jwks; /authorize and the pages are navigations and must not be readable cross-origin.
    """

    def __init__(self, app: ASGIApp, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "MCP-Protocol-Version", "X-Request-Id"],
            expose_headers=["X-Request-Id", "WWW-Authenticate"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class DefaultHeadersMiddleware:
    """Every response: ``nosniff``, no referrer, and ``no-store`` unless it chose its own caching
    (redirects carry codes and pending-request ids, which must not be cached)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnavailableMiddleware:
    """A request the database could not serve, or that ran past ``timeout`` seconds, gets 503 with
    ``Retry-After`` instead of a 500 or a hang: OAuth's ``temporarily_unavailable`` as JSON on the
    protocol endpoints, a page saying to try again on the HTML pages (``html_paths``).

    Authlib runs in a worker thread, which cancellation cannot stop (anyio waits for it), so the
    endpoint runs in a task of its own and the 503 goes out when the time is up; the thread
    finishes on its own (bounded by the statement timeout), its transaction commits or rolls back
    as a whole, and its late answer is dropped.
    """

    def __init__(self, app: ASGIApp, pages: Pages, *, timeout: float, html_paths: Collection[str]) -> None:
        self.app = app
        self.pages = pages
        self.timeout = timeout or math.inf
        self.html_paths = tuple(html_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = answered = False
        failure: Exception | None = None
        finished = anyio.Event()

        async def send_unless_answered(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the 503 went out already
            started = started or message["type"] == "http.response.start"
            await send(message)

        async def run() -> None:
            nonlocal failure
            try:
                await self.app(scope, receive, send_unless_answered)
            except Exception as exc:
                failure = exc
            finally:
                finished.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(run)
            with anyio.move_on_after(self.timeout):
                await finished.wait()
            if not finished.is_set():
                logger.warning("auth.unavailable", extra={"path": scope["path"], "reason": "timeout"})
                if not started:  # else a streamed answer cannot be replaced; the client sees it cut short
                    answered = True
                    await self._unavailable(scope)(scope, receive, send)
                tasks.cancel_scope.cancel()
        if failure is not None and answered:
            logger.warning("auth.abandoned_request_failed", exc_info=failure)
        if failure is None or answered:
            return
        if started or not is_unavailable(failure):
            raise failure
        logger.warning("auth.unavailable", extra={"path": scope["path"], "reason": type(failure).__name__})
        await self._unavailable(scope)(scope, receive, send)

    def _unavailable(self, scope: Scope) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if scope["path"].startswith(self.html_paths):
            page = self.pages.error(
                "Temporarily unavailable",
                "Sign-in is briefly unavailable. Wait a few seconds and try again.",
                status=503,
            )
            page.headers.update(headers)
            return page
        description = f"the service is briefly unavailable; retry in {RETRY_AFTER_SECONDS} s"
        return JSONResponse(
            {"error": "temporarily_unavailable", "error_description": description}, status_code=503, headers=headers
        )
