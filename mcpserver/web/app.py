"""The web library's ASGI app, mounted by the MCP server at ``settings.web_path`` (``/library``).

For route modules (``workspaces``, ``snippets``): ``app_context(request)`` gives the
MCP server's :class:`~mcpserver.context.AppContext` (settings, sessions, changes), and
``library(request)`` the whole :class:`Library` (sign-in machinery, session store).
Handlers call ``require_user`` (``mcpserver.web.session``) or ``checked_form``
(``mcpserver.web.csrf``), then the repository inside
``app_context(request).transaction(caller_of(user))``, and answer with
``mcpserver.web.templating.render`` or a 303 redirect. Repository errors need no handling
of their own unless a form should be shown again: ``NotFound`` becomes a 404 page (the same
for invisible and nonexistent), ``PermissionDenied`` 403, ``InvalidArgument`` 400,
``Conflict`` 409, ``RateLimited`` 429; ``SignInRequired`` a redirect to sign in.

Every page view and form counts against the user's rate limits, shared with their MCP
calls (``mcpserver.web.throttle``: 429 with ``Retry-After``). A database that does not
answer (``shared.db_errors.is_unavailable``, or the repository's ``Unavailable``) gives a
503 page with ``Retry-After`` from any page, never a 500.

Every response carries the headers of design/security.md (CSP with nothing but ourselves,
``frame-ancestors 'none'``, ``X-Frame-Options: DENY``, ``nosniff``, ``no-referrer``,
``no-store`` for pages; HSTS when served over https). Without a client secret
(``SKILLS_WEB_CLIENT_SECRET`` or the ``web_client_secret`` file) every page answers 503
saying how to enable the library.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from mcp.server.mcpserver.exceptions import ToolError
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpserver import errors
from mcpserver.auth import JWTVerifier
from mcpserver.context import AppContext
from mcpserver.ratelimit import RateLimiter
from mcpserver.revocation import RevocationCheck
from mcpserver.web import signin, workspaces
from mcpserver.web.limits import MAX_BODY_BYTES
from mcpserver.web.session import SessionStore, SignInRequired, active_session
from mcpserver.web.state import Library, app_context, library
from mcpserver.web.templating import render
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable
from shared.settings import Settings
from shared.skill_rules.limits import MAX_FILE_BYTES

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
__all__ = ["Library", "app_context", "create_web_app", "library"]


def content_security_policy(settings: Settings) -> str:
    # form-action also governs the redirects after a submission: a form posted with an
    # expired session is sent on to the authorization server to sign in again.
    issuer = urlsplit(settings.issuer_url)
    return (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; connect-src 'self'; "
        f"form-action 'self' {issuer.scheme}://{issuer.netloc}; frame-ancestors 'none'; base-uri 'none'"
    )


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.web_base_url.startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


class LibraryMiddleware:
    """Puts the :class:`Library` in the scope, adds the security headers, refuses bodies over
    ``MAX_BODY_BYTES`` with a 413 page (Starlette's own limit answers in plain text), and answers
    503 when disabled or when the database does not answer."""

    def __init__(self, app: ASGIApp, lib: Library) -> None:
        self.app = app
        self.lib = lib
        self.headers = security_headers(lib.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["web_library"] = self.lib
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        if self.lib.client_secret is None and not scope["path"].startswith(self.lib.settings.web_path + "/static/"):
            response = render(
                Request(scope, receive),
                "errors/disabled.html",
                {"secret_path": str(self.lib.settings.web_secret_path)},
                status_code=503,
            )
            await response(scope, receive, send_with_headers)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdecimal() and int(length) > MAX_BODY_BYTES:  # refused before a byte of it is read
            request = Request(scope, receive)
            request.scope["web_session"] = None
            await _too_large_page(request)(scope, receive, send_with_headers)
            return
        received = 0

        async def receive_at_most() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:  # a body sent without Content-Length, or longer than it said
                    raise HTTPException(413)
            return message

        try:
            await self.app(scope, receive_at_most, send_with_headers)
        except Exception as exc:
            # A session lookup, the rate limit count or a page's own query found no database.
            if started or not is_unavailable(exc):
                raise
            logger.warning("web.unavailable: %s %s: %s", scope["method"], scope["path"], type(exc).__name__)
            await _unavailable_page(Request(scope, receive))(scope, receive, send_with_headers)


def _too_large_page(request: Request) -> Response:
    return render(request, "errors/error.html", {"title": _TITLES[413], "message": TOO_LARGE}, status_code=413)


def _unavailable_page(request: Request) -> Response:
    """503 and ``Retry-After``: drawn without the session (looking it up needs the database)."""
    request.scope.setdefault("web_session", None)
    response = render(
        request,
        "errors/error.html",
        {
            "title": "Temporarily unavailable",
            "message": "The library's database is not answering right now, so nothing was read or changed. "
            "Try again in a few seconds.",
        },
        status_code=503,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _unavailable(request: Request, exc: Exception) -> Response:
    """The repository's :class:`~mcpserver.errors.Unavailable` (``AppContext.transaction``)."""
    logger.warning("web.unavailable: %s %s", request.method, request.url.path)
    return _unavailable_page(request)


async def _home(request: Request) -> Response:
    return RedirectResponse(library(request).settings.web_path + "/workspaces", status_code=303)


async def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    if "web_session" not in request.scope:
        try:
            await active_session(request)  # so the navigation shows who is signed in
        except Exception:
            request.scope["web_session"] = None
    return render(request, "errors/error.html", {"title": title, "message": message}, status_code=status)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    lib = library(request)
    target = lib.settings.web_path + "/signin"
    if exc.next_path:
        target += "?" + urlencode({"next": exc.next_path})
    return RedirectResponse(target, status_code=303)


_TITLES = {
    400: "That did not work",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    429: "Too many requests",
}


TOO_LARGE = (
    f"This form is larger than the library accepts: at most {MAX_BODY_BYTES // 1024} KiB in all, "
    f"and a supporting file at most {MAX_FILE_BYTES // (1024 * 1024)} MiB. Nothing was changed."
)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "There is nothing here, or it is not visible to you.", 413: TOO_LARGE}.get(
        exc.status_code, exc.detail
    )
    response = await _error_page(request, exc.status_code, _TITLES.get(exc.status_code, "Error"), str(message))
    response.headers.update(exc.headers or {})  # Retry-After of a 429
    return response


_TOOL_ERRORS: tuple[tuple[type[ToolError], int, str], ...] = (
    (errors.NotFound, 404, "Not found"),
    (errors.PermissionDenied, 403, "Not allowed"),
    (errors.InvalidArgument, 400, "That did not work"),
    (errors.Conflict, 409, "Conflict"),
    (errors.RateLimited, 429, "Too many requests"),
)


async def _tool_error(request: Request, exc: Exception) -> Response:
    for kind, status, title in _TOOL_ERRORS:
        if isinstance(exc, kind):
            if kind is errors.NotFound:
                return await _error_page(request, 404, title, "There is nothing here, or it is not visible to you.")
            return await _error_page(request, status, title, _sentence(str(exc)))
    return await _error_page(request, 400, "That did not work", _sentence(str(exc)))


async def _server_error(request: Request, exc: Exception) -> Response:
    # Answered outside the middleware: the headers are added here.
    request.scope.setdefault("web_session", None)
    response = render(
        request,
        "errors/error.html",
        {"title": "Something went wrong", "message": "The library could not answer this request. Try again."},
        status_code=500,
    )
    response.headers.update({**security_headers(library(request).settings), "Cache-Control": "no-store"})
    return response


def _snippet_routes() -> list[BaseRoute]:
    """The snippet pages (``mcpserver.web.snippets``), once that module exists."""
    try:
        module = importlib.import_module("mcpserver.web.snippets")
    except ModuleNotFoundError as error:
        if error.name != "mcpserver.web.snippets":
            raise
        return []
    found: list[BaseRoute] = module.routes()
    return found


def _sentence(message: str) -> str:
    """``"conflict: a workspace must …"`` → ``"A workspace must …"``."""
    _, _, rest = message.partition(": ")
    text = rest or message
    return text[:1].upper() + text[1:]


def create_web_app(
    settings: Settings,
    context: AppContext,
    http: httpx.AsyncClient,
    verifier: JWTVerifier,
    revocations: RevocationCheck,
    limiter: RateLimiter,
) -> Starlette:
    """The library as a sub-app; the caller mounts it at ``settings.web_path`` and owns ``http``
    and ``limiter`` (the MCP server's, so pages and tool calls share one budget per user)."""
    lib = Library(
        settings=settings,
        context=context,
        http=http,
        verifier=verifier,
        revocations=revocations,
        sessions=SessionStore(settings, context.sessions, revocations),
        client_secret=settings.web_secret(),
        limiter=limiter,
    )
    routes: list[BaseRoute] = [
        Route("/", _home, methods=["GET"]),
        *signin.routes(),
        *workspaces.routes(),
        *_snippet_routes(),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(LibraryMiddleware, lib=lib)],
        exception_handlers={
            SignInRequired: _sign_in_required,
            errors.Unavailable: _unavailable,
            HTTPException: _http_error,
            ToolError: _tool_error,
            500: _server_error,
        },
    )
