"""Every authenticated MCP request: rate limited, then logged.

An SDK server middleware, so it sees each JSON-RPC request of both protocol eras after
the gate has authenticated it, with the method and the tool name, and the outcome.

Rate limits: a tool call, resource, prompt or completion request over its bucket's limit
does not run; a tool call answers with a tool error the model can act on ("rate limited:
… retry in N s"), any other request with a JSON-RPC error carrying ``retryAfterSeconds``.

Outages and slow requests: a request runs for at most ``timeout`` seconds, and one the
database could not serve (``shared.db_errors``) is answered "unavailable: … retry in N s",
as a tool error for a tool call and as a JSON-RPC error with ``retryAfterSeconds``
otherwise, never as a crash. A read is tried once more first, since repeating it is
harmless; a write never is: the client retries it, with the same idempotency key.

The log: one ``mcp.call`` record per request with the user, the client, the JSON-RPC
method, the tool (or resource URI), the outcome and the latency. Never arguments:
they carry snippet bodies; never tokens.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, CallToolResult, TextContent
from pydantic import ValidationError

from mcpserver.context import caller_or_none
from mcpserver.errors import RateLimited, Unavailable
from mcpserver.ratelimit import RateLimiter
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable
from shared.metrics import Metrics

logger = logging.getLogger("mcpserver.calls")

RATE_LIMITED = -32029
"""JSON-RPC error code (implementation-defined range) of a rate-limited resource request."""
STREAMS = ("subscriptions/listen",)
"""Requests that stay open by design (change notifications), which the request timeout leaves alone."""
UNAVAILABLE = -32030
"""JSON-RPC error code of a request the database could not serve in time (``data.retryAfterSeconds``)."""

READ_METHODS = (
    "resources/list",
    "resources/read",
    "resources/templates/list",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "skills/list",
    "skills/get",
    "resources/directory/read",
)
"""Requests other than tool calls that count against the read bucket."""
URI_METHODS = ("resources/read", "resources/directory/read", "skills/get")
"""Requests whose log target is the URI they name."""


TOOL_ERROR_OUTCOMES = (
    ("not found:", "not_found"),
    ("permission denied:", "forbidden"),
    ("invalid ", "invalid_argument"),
    ("conflict:", "conflict"),
    ("rate limited:", "rate_limited"),
    ("unavailable:", "unavailable"),
)
"""Metric outcome of a tool error, by the prefix of its text (one per type in :mod:`mcpserver.errors`)."""
SDK_TRANSPORT_LOGGER = "mcp.server.streamable_http"
SDK_ERROR_PREFIX = "Error executing tool "
"""What the SDK writes before the text of an error a tool raised."""


class CallMiddleware:
    def __init__(
        self,
        limiter: RateLimiter,
        tool_buckets: Mapping[str, str],
        metrics: Metrics | None = None,
        *,
        timeout: float = 0,
    ):
        self.limiter = limiter
        self.tool_buckets = tool_buckets
        self.metrics = metrics
        if not logger.isEnabledFor(logging.DEBUG):
            # The SDK's transport logs "Terminating session: None" at INFO after every stateless
            # request: a third line per call next to the access line and this one, saying nothing.
            logging.getLogger(SDK_TRANSPORT_LOGGER).setLevel(logging.WARNING)
        self.timeout = timeout or math.inf

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification: nothing to limit or answer
            return await call_next(ctx)
        started = time.perf_counter()
        caller = caller_or_none()
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        tool = params.get("name") if ctx.method == "tools/call" else None
        target = params.get("uri") if ctx.method in URI_METHODS else tool
        if ctx.method == "prompts/get":
            target = params.get("name")
        outcome = "ok"
        result_text = ""
        try:
            bucket = self._bucket(ctx.method, tool)
            with anyio.fail_after(math.inf if ctx.method in STREAMS else self.timeout):
                if bucket is not None and caller is not None:
                    retry_after = await self.limiter.hit(caller.user_id, bucket)
                    if retry_after is not None:
                        outcome = "rate_limited"
                        if self.metrics is not None:
                            self.metrics.rate_limit_hits.labels(bucket).inc()
                        refusal = RateLimited(retry_after, bucket, self.limiter.limits[bucket])
                        if ctx.method == "tools/call":
                            return CallToolResult(content=[TextContent(type="text", text=str(refusal))], is_error=True)
                        raise MCPError(RATE_LIMITED, str(refusal), data={"retryAfterSeconds": retry_after})
                result = await _call(ctx, call_next, again=bucket == "read")
            if _is_tool_error(result):
                outcome = "tool_error"
                result_text = _first_text(result)
            return result
        except MCPError as exc:
            if outcome == "ok" and exc.error.message.startswith(UNAVAILABLE_PREFIX):
                outcome = "unavailable"  # a resource read's Unavailable, already a JSON-RPC error
                raise MCPError(
                    UNAVAILABLE, exc.error.message, data={"retryAfterSeconds": RETRY_AFTER_SECONDS}
                ) from None
            if outcome == "ok":
                outcome = f"error {exc.code}"
            raise
        except Exception as exc:
            if not (isinstance(exc, TimeoutError) or is_unavailable(exc)):
                outcome = "exception"
                if isinstance(exc, ValidationError):
                    raise  # malformed params: the SDK answers INVALID_PARAMS
                # The SDK would answer anything else with code 0 and str(exc): a database error's SQL, for one.
                logger.exception("mcp.exception", extra={"method": ctx.method})
                raise MCPError(INTERNAL_ERROR, "internal error: the server failed on this request") from None
            outcome = "unavailable"
            logger.warning("mcp.unavailable", extra={"method": ctx.method, "error": type(exc).__name__})
            result_text = str(Unavailable(RETRY_AFTER_SECONDS))
            if ctx.method == "tools/call":
                return CallToolResult(content=[TextContent(type="text", text=result_text)], is_error=True)
            raise MCPError(UNAVAILABLE, result_text, data={"retryAfterSeconds": RETRY_AFTER_SECONDS}) from None
        finally:
            if self.metrics is not None and isinstance(tool, str):
                self.metrics.tool_calls.labels(tool, _metric_outcome(outcome, result_text)).inc()
            logger.info(
                "mcp.call",
                extra={
                    "user": str(caller.user_id) if caller else None,
                    "client": caller.client_id if caller else None,
                    "method": ctx.method,
                    "target": target if isinstance(target, str) else None,
                    "outcome": outcome,
                    "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                    "protocol": ctx.protocol_version,
                },
            )

    def _bucket(self, method: str, tool: object) -> str | None:
        if method == "tools/call":
            return self.tool_buckets.get(tool) if isinstance(tool, str) else None
        return "read" if method in READ_METHODS else None


async def _call(ctx: ServerRequestContext[Any, Any], call_next: CallNext, *, again: bool) -> HandlerResult:
    """``call_next``; with ``again``, a request the database could not serve runs once more (a read:
    repeating it changes nothing, and the pool has by then replaced a connection a restart broke)."""
    if not again:
        return await call_next(ctx)
    try:
        result = await call_next(ctx)
    except Exception as exc:
        unavailable = isinstance(exc, MCPError) and exc.error.message.startswith(UNAVAILABLE_PREFIX)
        if not (unavailable or is_unavailable(exc)):
            raise
        return await call_next(ctx)
    return await call_next(ctx) if _unavailable(result) else result


def _metric_outcome(outcome: str, text: str) -> str:
    """``ok``, the error type of a tool error (``not_found``, …), or ``error``."""
    if outcome in ("ok", "rate_limited", "unavailable"):
        return outcome
    if outcome == "tool_error":
        text = text.split(": ", 1)[-1] if text.startswith(SDK_ERROR_PREFIX) else text
        return next((name for prefix, name in TOOL_ERROR_OUTCOMES if text.startswith(prefix)), "error")
    return "error"


def _first_text(result: HandlerResult) -> str:
    """The first text block of a tool result (model or wire form), or ""."""
    content: Any = None
    if isinstance(result, CallToolResult):
        content = result.content
    elif isinstance(result, dict):
        content = result.get("content")
    for block in content or ():
        text = block.text if isinstance(block, TextContent) else block.get("text") if isinstance(block, dict) else None
        if isinstance(text, str):
            return text
    return ""


UNAVAILABLE_PREFIX = "unavailable:"


def _unavailable(result: HandlerResult) -> bool:
    """A tool result saying the database did not answer (:class:`mcpserver.errors.Unavailable`)."""
    if not _is_tool_error(result):
        return False
    text = _first_text(result)
    text = text.split(": ", 1)[-1] if text.startswith(SDK_ERROR_PREFIX) else text
    return text.startswith(UNAVAILABLE_PREFIX)


def _is_tool_error(result: HandlerResult) -> bool:
    """A tool result with isError, as a model or (once the runner has serialized it) as its wire form."""
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    return isinstance(result, dict) and result.get("isError") is True
