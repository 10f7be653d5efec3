"""The authorization endpoint (RFC 6749 §4.1.1), GET only.

Order matters: the client and its redirect URI are checked first, and until both are known
good every problem is shown as a page here, never redirected (an open redirector otherwise).
After that, errors go back to the client with ``state`` and ``iss``. A valid request is kept
server-side (:mod:`authserver.pending`) and the browser goes on to login or consent.
A client named by a metadata document URL has its document fetched (or refreshed) first.
"""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authserver.client_metadata_documents import ensure_client_document
from authserver.context import AuthContext
from authserver.pending import save_pending
from authserver.server import AuthServer, IncomingRequest
from authserver.sessions import current_session

# What a pending request keeps; each was checked to appear at most once.
AUTHORIZATION_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
)


async def authorize(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    incoming = await IncomingRequest.read(request)
    client_ids = [value for key, value in incoming.query if key == "client_id"]
    if len(client_ids) == 1 and (problem := await ensure_client_document(ctx, client_ids[0])):
        return ctx.pages.error("This sign-in request cannot be completed", problem)
    return await ctx.run(_authorize, ctx, incoming)


def _authorize(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    server = AuthServer(ctx, db)
    try:
        grant = server.get_consent_grant(incoming)
    except OAuth2Error as error:
        return authorization_error(ctx, server, error)
    params = {key: value for key, value in grant.request.payload.data.items() if key in AUTHORIZATION_PARAMETERS}
    request_id = save_pending(db, grant.client.client_id, params)
    signed_in = current_session(db, incoming.cookies.get(ctx.cookies.session)) is not None
    step = "consent" if signed_in else "login"
    return RedirectResponse(f"{ctx.settings.issuer_url}/{step}?request={request_id}", status_code=303)


def authorization_error(ctx: AuthContext, server: AuthServer, error: OAuth2Error) -> Response:
    """To the client if its redirect URI was verified, else a page for the person at the browser."""
    if error.redirect_uri:
        return server.authorization_error_response(error)
    return ctx.pages.error("This sign-in request cannot be completed", error.description or str(error.error))
