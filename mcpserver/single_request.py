"""The lean path for one stateless JSON-RPC request: the SDK's kernel without its per-POST transport.

For a handshake-era (2025-*) POST, the SDK's stateless streamable HTTP manager builds a
transport with memory streams, starts a JSON-RPC dispatcher in a new task, routes the one
request through the streams and tears it all down again: about a quarter of a worker's CPU
per tool call (``bench/README.md``). Its 2026-07-28 entry already does without: it hands the
request to ``serve_one``, the same ``ServerRunner`` the dispatcher drives.

:class:`SingleRequestPath` does the same for a handshake-era POST that carries exactly one
JSON-RPC request other than ``initialize``, in JSON-response mode: same kernel (validation,
middleware, handlers), same response bytes, same error mapping, except that an exception no
layer mapped is answered ``INTERNAL_ERROR`` rather than with its text. Everything else —
``initialize``, notifications, batches, malformed bodies, GET and DELETE, other content types
or ``Accept`` headers, 2026-era requests — goes to the SDK's app unchanged, which answers it as
before. The conformance suite and the protocol tests run through both paths.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import pydantic_core
from mcp.server.connection import Connection
from mcp.server.runner import serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecurityMiddleware
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.jsonrpc_dispatcher import handler_exception_to_error_data, progress_token_from_params
from mcp.shared.message import MessageMetadata, ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    INTERNAL_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCRequest,
    JSONRPCResponse,
    ProgressToken,
    RequestId,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpserver.bodies import read_body

logger = logging.getLogger(__name__)

PROTOCOL_VERSION_HEADER = b"mcp-protocol-version"
NOT_HERE = frozenset({"initialize"})
"""Requests left to the SDK's transport: ``initialize`` runs inline there, before the kernel is ready."""


@dataclass
class _OneExchange:
    """The dispatch context of one request answered with one JSON body: there is nowhere to put
    a notification or a server-to-client request, as in the SDK's JSON-response transport."""

    transport: TransportContext
    request_id: RequestId
    message_metadata: MessageMetadata
    progress_token: ProgressToken | None = None
    cancel_requested: anyio.Event = field(default_factory=anyio.Event)
    can_send_request: bool = field(default=False, init=False)

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None) -> None:
        logger.debug("dropped %s: a JSON response carries no notifications", method)

    async def progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        return None


class SingleRequestPath:
    """ASGI app in front of the SDK's streamable HTTP app (``sdk_app``, served by ``manager``)."""

    def __init__(self, sdk_app: ASGIApp, manager: StreamableHTTPSessionManager):
        if not (manager.stateless and manager.json_response):
            raise ValueError("the single-request path serves stateless JSON-response endpoints only")
        self.sdk_app = sdk_app
        self.manager = manager
        self.security = TransportSecurityMiddleware(manager.security_settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.sdk_app(scope, receive, send)
            return
        version = _header(scope, PROTOCOL_VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await self.sdk_app(scope, receive, send)  # the 2026 era: the SDK's own single-exchange entry
            return
        body, replay = await read_body(receive)  # the gate has already bounded it
        request = Request(scope, replay)
        message = await self._one_request(request, body)
        if message is None:
            await self.sdk_app(scope, replay, send)
            return
        answer = await self._answer(request, message, version or DEFAULT_NEGOTIATED_VERSION)
        payload = answer.model_dump_json(by_alias=True, exclude_unset=True).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _one_request(self, request: Request, body: bytes) -> JSONRPCRequest | None:
        """The request this path serves, or None to leave the POST to the SDK (which then
        answers exactly as before: 4xx for bad headers or bodies, the handshake, notifications)."""
        if await self.security.validate_request(request, is_post=True) is not None:
            return None
        if not check_accept_headers(request)[0] or not _is_json(request.headers.get("content-type", "")):
            return None
        try:
            decoded = pydantic_core.from_json(body)  # as the SDK parses: lone surrogates are a parse error
        except ValueError:
            return None
        if not isinstance(decoded, dict) or "id" not in decoded or decoded.get("method") in NOT_HERE:
            return None
        try:
            return JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            return None

    async def _answer(self, request: Request, message: JSONRPCRequest, version: str) -> JSONRPCResponse | JSONRPCError:
        """Run the request through the SDK's kernel, as its dispatcher would, and map the outcome."""
        exchange = _OneExchange(
            transport=TransportContext(kind="streamable-http", can_send_request=False),
            request_id=message.id,
            message_metadata=ServerMessageMetadata(request_context=request, can_send_request=False),
            progress_token=progress_token_from_params(message.params),
        )
        connection = Connection.from_envelope(version, None, None)
        try:
            result = await serve_one(
                self.manager.app,
                exchange,
                message.method,
                message.params,
                connection=connection,
                lifespan_state=self.manager._lifespan_state,  # entered once by manager.run()
            )
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:
                logger.exception("mcp.unhandled: %s", message.method)
                error = ErrorData(code=INTERNAL_ERROR, message="Internal server error")
            return JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
        return JSONRPCResponse(jsonrpc="2.0", id=message.id, result=result)


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == name), None)


def _is_json(content_type: str) -> bool:
    """The SDK's own test: ``application/json`` among the media types before any parameter."""
    return any(part.strip() == "application/json" for part in content_type.split(";")[0].split(","))
