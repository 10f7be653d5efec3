"""The consent page: what the client asks for, and the user's allow or deny.

What the page shows and what the answer grants both come from the stored request, validated
again by Authlib: the form carries only the one-time request id and the CSRF token, so
tampered hidden fields change nothing. The id is consumed when the user decides.

Consent is remembered per (user, client, resource) with the scopes allowed
(:mod:`authserver.consents`): a later request of the same client for the same resource
and no new scope is answered at once; any other client always sees the page.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authserver import audit
from authserver.clients import is_loopback
from authserver.consents import has_consent, record_consent, touch_consent
from authserver.context import AuthContext
from authserver.endpoints.authorize import authorization_error
from authserver.pending import consume_pending, find_pending
from authserver.server import AuthServer, BadForm, IncomingRequest
from authserver.sessions import current_session, tokens_match
from shared.models import User
from shared.settings import OFFLINE_ACCESS, SCOPES

SCOPE_WORDS = {**SCOPES, OFFLINE_ACCESS: "Stay connected when you are away (refresh tokens)"}
DECISIONS = ("allow", "deny")


async def consent(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm:
        return ctx.pages.error("Consent failed", "The form could not be read.")
    if incoming.method == "GET":
        return await ctx.run(_consent_page, ctx, incoming)
    return await ctx.run(_decide, ctx, incoming)


def _consent_page(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    request_id = dict(incoming.query).get("request", "")
    pending = find_pending(db, request_id)
    if pending is None:
        return ctx.pages.expired_request()
    signed_in = current_session(db, incoming.cookies.get(ctx.cookies.session))
    if signed_in is None:
        return RedirectResponse(f"{ctx.settings.issuer_url}/login?request={request_id}", status_code=303)
    server = AuthServer(ctx, db)
    try:
        grant = server.get_consent_grant(server.replay_authorization_request(pending.params), end_user=signed_in.user)
    except OAuth2Error as error:
        return authorization_error(ctx, server, error)
    user = signed_in.user
    if has_consent(db, user.id, grant.client.client_id, grant.request.resource, grant.request.scope):
        return _remembered(db, server, request_id, user)
    redirect_uri: str = grant.redirect_uri
    return ctx.pages.render(
        "consent.html",
        form_targets=[_csp_source(redirect_uri)],
        request_id=request_id,
        csrf_token=signed_in.session.csrf_token,
        client_name=grant.client.name,
        user_email=user.email,
        resource=grant.request.resource,
        redirect_host=urlsplit(redirect_uri).netloc,
        loopback=is_loopback(redirect_uri),
        scopes=[(scope, SCOPE_WORDS.get(scope, scope)) for scope in grant.request.scope.split()],
    )


def _decide(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    signed_in = current_session(db, incoming.cookies.get(ctx.cookies.session))
    if signed_in is None or not tokens_match(signed_in.session.csrf_token, incoming.field("csrf_token")):
        return ctx.pages.error("Consent failed", "The form expired. Start signing in again.", status=403)
    decision = incoming.field("decision")
    if decision not in DECISIONS:
        return ctx.pages.error("Consent failed", "Choose Allow or Deny.")
    pending = consume_pending(db, incoming.field("request"))
    if pending is None:
        return ctx.pages.expired_request()
    server = AuthServer(ctx, db)
    request = server.replay_authorization_request(pending.params)
    try:
        grant = server.get_consent_grant(request, end_user=signed_in.user)
    except OAuth2Error as error:
        return authorization_error(ctx, server, error)
    user = signed_in.user if decision == "allow" else None
    if user is not None:
        record_consent(db, user.id, grant.client.client_id, grant.request.resource, grant.request.scope)
        audit.record(
            db,
            "consent.grant",
            user_id=user.id,
            client_id=grant.client.client_id,
            resource=grant.request.resource,
            scope=grant.request.scope,
        )
    response: Response = server.create_authorization_response(request, grant_user=user, grant=grant)
    return response


def _remembered(db: Session, server: AuthServer, request_id: str, user: User) -> Response:
    """Answer at once: the user already allowed this client these scopes at this resource."""
    pending = consume_pending(db, request_id)
    if pending is None:
        return server.ctx.pages.expired_request()
    request = server.replay_authorization_request(pending.params)
    try:
        grant = server.get_consent_grant(request, end_user=user)
    except OAuth2Error as error:
        return authorization_error(server.ctx, server, error)
    touch_consent(db, user.id, grant.client.client_id, grant.request.resource)
    # Approved without the user seeing a page: the trail shows which consent was used, and when.
    audit.record(
        db,
        "consent.reuse",
        user_id=user.id,
        client_id=grant.client.client_id,
        resource=grant.request.resource,
        scope=grant.request.scope,
    )
    response: Response = server.create_authorization_response(request, grant_user=user, grant=grant)
    return response


def _csp_source(redirect_uri: str) -> str:
    """The CSP source that lets the form's final redirect reach ``redirect_uri``."""
    parts = urlsplit(redirect_uri)
    try:
        ipaddress.IPv6Address((parts.hostname or "").strip("[]"))
        return f"{parts.scheme}:"  # CSP host sources cannot name an IPv6 literal
    except ValueError:
        return f"{parts.scheme}://{parts.netloc}"
