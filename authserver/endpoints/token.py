"""The token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants, via Authlib.

A client named by a metadata document URL has a stale document refreshed first; if that
fails, the client is refused rather than trusted on an outdated copy.
"""

from __future__ import annotations

import json

from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from authserver.client_metadata_documents import ensure_client_document
from authserver.context import AuthContext
from authserver.server import AuthServer, BadForm, IncomingRequest, oauth_error_response

COUNTED_GRANTS = ("authorization_code", "refresh_token")


async def token(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm as error:
        return oauth_error_response(InvalidRequestError(f"The request body is not valid: {error}."))
    if problem := await ensure_client_document(ctx, incoming.field("client_id")):
        return oauth_error_response(InvalidClientError(description=problem))
    return await ctx.run(_token, ctx, incoming)


def _token(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    server = AuthServer(ctx, db)
    response: Response = server.create_token_response(incoming)
    _count(ctx, incoming.field("grant_type"), response, server.failure_reason)
    return response


def _count(ctx: AuthContext, grant_type: str | None, response: Response, reason: str | None) -> None:
    """Metrics: a token issued per grant, or a refused client or grant with its reason."""
    if response.status_code == 200:
        if grant_type in COUNTED_GRANTS:
            ctx.metrics.tokens.labels(grant_type).inc()
        return
    try:
        error = json.loads(bytes(response.body)).get("error")
    except (ValueError, AttributeError):
        return
    if reason is None and error in ("invalid_client", "invalid_grant"):
        reason = error
    if reason is not None:
        ctx.metrics.auth_failure(reason)
