"""The gate in front of the MCP endpoint: bearer token, revocations, scopes, and the challenges.

Runs before the SDK sees a request. A missing or bad token gets 401 with
``resource_metadata`` and ``scope`` (RFC 9728 / RFC 6750); so does a token the
authorization server has since revoked (``mcpserver.revocation``); a token without the
scopes a JSON-RPC call needs gets 403 ``insufficient_scope`` naming every one of them.
The SDK's own middleware does none of this, so this replaces it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping

from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from sqlalchemy.exc import SQLAlchemyError
from starlette.authentication import AuthCredentials
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpserver.auth import InvalidToken, JWTVerifier
from mcpserver.bodies import BodyTooLarge, read_body
from mcpserver.revocation import RevocationCheck, TokenRefused
from shared.db_errors import RETRY_AFTER_SECONDS, is_unavailable
from shared.metrics import Metrics
from shared.settings import SCOPES

logger = logging.getLogger(__name__)

ALL_SCOPES = " ".join(SCOPES)
READ = ("snippets:read",)


def scopes_for_call(message: object, tool_scopes: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Scopes one JSON-RPC message (or a batch) needs; unknown methods need only a valid token."""
    if isinstance(message, list):
        return set().union(*(scopes_for_call(m, tool_scopes) for m in message)) if message else set()
    if not isinstance(message, dict):
        return set()
    method = message.get("method")
    if method == "tools/call":
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        return set(tool_scopes.get(name, ())) if isinstance(name, str) else set()
    if isinstance(method, str) and method.split("/")[0] in ("resources", "prompts", "completion", "skills"):
        return set(READ)
    return set()


class BearerGate:
    """ASGI wrapper that authenticates and authorizes requests to the MCP endpoint."""

    def __init__(
        self,
        app: ASGIApp,
        verifier: JWTVerifier,
        revocations: RevocationCheck,
        *,
        resource_metadata_url: str,
        tool_scopes: Callable[[], Mapping[str, tuple[str, ...]]],
        max_body_size: int = DEFAULT_MAX_REQUEST_BODY_SIZE,
        metrics: Metrics | None = None,
    ):
        self.app = app
        self.verifier = verifier
        self.revocations = revocations
        self.resource_metadata_url = resource_metadata_url
        self.tool_scopes = tool_scopes
        self.max_body_size = max_body_size
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None:
            self._refused("missing_token")
            await self._challenge(send, 401, None, "authentication required", ALL_SCOPES)
            return
        try:
            access = await self.verifier.verify(token)
            issued_at = int((access.claims or {})["iat"])  # the verifier requires iat
            await self.revocations.check(access.subject or "", access.client_id, issued_at)
        except InvalidToken as exc:
            logger.info("mcp.refused", extra={"status": 401, "reason": str(exc)})
            self._refused("invalid_token")
            await self._challenge(send, 401, "invalid_token", str(exc), ALL_SCOPES)
            return
        except TokenRefused as exc:
            self._refused("revoked")
            logger.info(
                "mcp.refused",
                extra={"status": exc.status, "reason": str(exc), "user": access.subject, "client": access.client_id},
            )
            if exc.status == 401:
                await self._challenge(send, 401, "invalid_token", str(exc), ALL_SCOPES)
            else:
                await _json(send, exc.status, {"error": "access_denied", "error_description": str(exc)})
            return
        except (SQLAlchemyError, OSError) as exc:
            if is_unavailable(exc):  # an outage: one line per request, not a traceback each
                logger.warning("mcp.revocation_check_unavailable", extra={"error": type(exc).__name__})
            else:
                logger.exception("mcp.revocation_check_failed")
            unavailable = {"error": "temporarily_unavailable", "error_description": "try again shortly"}
            await _json(send, 503, unavailable, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())])
            return

        granted = set(access.scopes)
        if scope["method"] == "POST":
            try:
                body, receive = await read_body(receive, self.max_body_size)
            except BodyTooLarge:
                too_large = f"request body larger than {self.max_body_size} bytes (mcp_max_request_bytes)"
                await _json(send, 413, {"error": "invalid_request", "error_description": too_large})
                return
            try:
                needed = scopes_for_call(json.loads(body), self.tool_scopes())
            except (ValueError, RecursionError):  # RecursionError: JSON nested too deep for json.loads
                needed = set()  # the SDK answers malformed JSON with a JSON-RPC parse error
            if not needed <= granted:
                logger.info(
                    "mcp.refused",
                    extra={
                        "status": 403,
                        "reason": "insufficient_scope",
                        "user": access.subject,
                        "client": access.client_id,
                        "needed": sorted(needed),
                    },
                )
                self._refused("insufficient_scope")
                wanted = " ".join(sorted(needed | granted))
                await self._challenge(send, 403, "insufficient_scope", f"needs {' '.join(sorted(needed))}", wanted)
                return

        user = AuthenticatedUser(access)
        scope["user"] = user
        scope["auth"] = AuthCredentials(access.scopes)
        reset = auth_context_var.set(user)
        try:
            await self.app(scope, receive, send)
        finally:
            auth_context_var.reset(reset)

    def _refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.auth_failure(reason)

    async def _challenge(self, send: Send, status: int, error: str | None, description: str, scopes: str) -> None:
        parts = []
        if error:
            parts += [f'error="{error}"', f'error_description="{_quoted(description)}"']
        parts += [f'resource_metadata="{self.resource_metadata_url}"', f'scope="{scopes}"']
        body = {"error": error or "invalid_request", "error_description": description}
        await _json(send, status, body, [(b"www-authenticate", ("Bearer " + ", ".join(parts)).encode())])


async def _json(send: Send, status: int, document: object, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _quoted(text: str) -> str:
    """Text safe inside a quoted-string of a challenge."""
    return text.replace("\\", "").replace('"', "'")


def _bearer(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None
