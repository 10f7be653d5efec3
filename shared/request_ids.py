"""The request id: one string that follows an HTTP request through both servers' logs and the database.

:class:`RequestIdMiddleware` (outermost in both apps) takes a well-formed ``X-Request-Id``
from the caller, so an id a client or reverse proxy already logs carries on, or makes a new
one; it answers it in the response's ``X-Request-Id`` and holds it in a context variable
for the rest of the request. The JSON log formatter adds it to every record logged while
the request is handled (uvicorn's access line included), and the database transactions
put it into Postgres's ``application_name`` (``pg_stat_activity``, ``%a`` in
``log_line_prefix``).

Only short ids of letters, digits and ``. _ : -`` are taken from outside: anything else
(too long, spaces, quotes, control characters) is replaced, so an id can neither forge log
lines nor outgrow ``application_name`` (63 bytes).
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Request-Id"
MAX_LENGTH = 63
_WELL_FORMED = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled here, or None outside any request."""
    return _current.get()


def accepted_or_new(incoming: str | None) -> str:
    """``incoming`` when it is a well-formed id, else a fresh random one (32 hex digits)."""
    if incoming is not None and _WELL_FORMED.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


class RequestIdMiddleware:
    """Gives each HTTP request its id (see the module docstring) and answers it in ``X-Request-Id``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = accepted_or_new(incoming.decode("latin-1") if incoming is not None else None)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = _current.set(request_id)
        await self.app(scope, receive, send_with_id)
        # Reset only after success: when the app raises, the server's own "Exception in ASGI
        # application" line is logged in this task after we return and should carry the id
        # too; the task ends with the request, so the value goes nowhere else.
        _current.reset(token)
