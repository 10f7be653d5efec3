"""The login page: email and password, for a pending authorization request.

Unknown email, wrong password and disabled account answer the same page with the same
status, after the same work (a dummy hash is verified when there is no account).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authserver.clients import find_client
from authserver.context import AuthContext
from authserver.passwords import hash_password, needs_rehash, verify_password_async
from authserver.pending import find_pending
from authserver.server import BadForm, IncomingRequest
from authserver.sessions import current_session, start_session, tokens_match
from authserver.users import find_user_by_email
from shared.models import User

_CSRF_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class LoginAttempt:
    """What a POST needs from the database before the (slow) password check."""

    pending_ok: bool
    client_name: str
    user_id: uuid.UUID | None
    password_hash: str | None


async def login(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm:
        return ctx.pages.error("Sign-in failed", "The form could not be read.")
    if incoming.method == "GET":
        return await ctx.run(_login_page, ctx, incoming)
    return await _login_submit(ctx, incoming)


def _login_page(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    request_id = dict(incoming.query).get("request", "")
    pending = find_pending(db, request_id)
    if pending is None:
        return ctx.pages.expired_request()
    if current_session(db, incoming.cookies.get(ctx.cookies.session)) is not None:
        return RedirectResponse(f"{ctx.settings.issuer_url}/consent?request={request_id}", status_code=303)
    client = find_client(db, pending.client_id)
    return _form(ctx, incoming, request_id, client.name if client else pending.client_id, failed=False)


async def _login_submit(ctx: AuthContext, incoming: IncomingRequest) -> Response:
    request_id = incoming.field("request") or ""
    if not tokens_match(incoming.cookies.get(ctx.cookies.login_csrf), incoming.field("csrf_token")):
        return ctx.pages.error("Sign-in failed", "The form expired. Start signing in again.", status=403)
    email, password = incoming.field("email") or "", incoming.field("password") or ""
    attempt = await ctx.run(_prepare_attempt, request_id, email)
    if not attempt.pending_ok:
        return ctx.pages.expired_request()
    assert ctx.password_slots is not None
    verified = await verify_password_async(attempt.password_hash, password, ctx.password_slots)
    if not verified or attempt.user_id is None:
        return _form(ctx, incoming, request_id, attempt.client_name, failed=True)
    cookie = await ctx.run(_sign_in, attempt.user_id, incoming.cookies.get(ctx.cookies.session), password)
    response = RedirectResponse(f"{ctx.settings.issuer_url}/consent?request={request_id}", status_code=303)
    ctx.cookies.set(response, ctx.cookies.session, cookie)
    ctx.cookies.clear(response, ctx.cookies.login_csrf)
    return response


def _prepare_attempt(db: Session, request_id: str, email: str) -> LoginAttempt:
    pending = find_pending(db, request_id)
    if pending is None:
        return LoginAttempt(False, "", None, None)
    client = find_client(db, pending.client_id)
    user = find_user_by_email(db, email) if email else None
    usable = user is not None and user.disabled_at is None
    return LoginAttempt(
        pending_ok=True,
        client_name=client.name if client else pending.client_id,
        user_id=user.id if user is not None and usable else None,
        # A disabled account is still verified against its own hash: same work, same answer.
        password_hash=user.password_hash if user is not None else None,
    )


def _sign_in(db: Session, user_id: uuid.UUID, previous_cookie: str | None, password: str) -> str:
    user = db.get(User, user_id)
    assert user is not None
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return start_session(db, user, previous_cookie)


def _form(ctx: AuthContext, incoming: IncomingRequest, request_id: str, client_name: str, *, failed: bool) -> Response:
    csrf = incoming.cookies.get(ctx.cookies.login_csrf, "")
    fresh = not _CSRF_SHAPE.match(csrf)
    if fresh:
        csrf = secrets.token_urlsafe(32)
    response = ctx.pages.render(
        "login.html",
        status=400 if failed else 200,
        request_id=request_id,
        csrf_token=csrf,
        client_name=client_name,
        failed=failed,
    )
    if fresh:
        ctx.cookies.set(response, ctx.cookies.login_csrf, csrf)
    return response
