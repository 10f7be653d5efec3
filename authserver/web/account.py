"""The account page: the applications a user authorized (with a revoke button each), a new
password, and signing out.

Every form is a POST carrying the session's CSRF token and answers 303 on success.
Revoking an application ends its access and refresh tokens (the MCP server refuses them
within seconds, :mod:`authserver.revocation`) and forgets the consent, so it must ask again.
A new password ends every session and token of the account, this browser's session
included, and signs this browser in again under a fresh session id: the person who changed
it stays signed in, nobody else does.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from authserver import audit
from authserver.consents import authorized_applications, forget_consents
from authserver.context import AuthContext
from authserver.passwords import (
    PasswordRejected,
    check_new_password,
    hash_password_async,
    verify_password_async,
)
from authserver.revocation import revoke_grant, revoke_refresh_tokens
from authserver.server import BadForm, IncomingRequest
from authserver.sessions import SignedIn, current_session, end_session, start_session, tokens_match
from authserver.throttle import check, hit, throttle_key
from authserver.users import set_password
from authserver.web.consent import SCOPE_WORDS
from shared.models import User

NOTICES = {
    "revoked": "Access revoked. The application must ask you again before it can act for you.",
    "password": "Password changed. Every other browser and application has been signed out.",
}


@dataclass(frozen=True)
class Account:
    """The signed-in user as a POST handler needs them outside a database session."""

    user_id: uuid.UUID
    email: str
    name: str
    password_hash: str | None
    session_hash: str
    csrf_token: str


async def account_page(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    incoming = await IncomingRequest.read(request)
    notice = NOTICES.get(dict(incoming.query).get("done", ""))
    return await ctx.run(_render_for_cookie, ctx, incoming.cookies.get(ctx.cookies.session), notice)


async def revoke_application(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    incoming, account = await _authenticated_post(ctx, request)
    if account is None:
        return _form_expired(ctx)
    client_id = incoming.field("client_id") or ""
    await ctx.run(_revoke, account.user_id, client_id)
    return RedirectResponse(f"{ctx.settings.issuer_url}/account?done=revoked", status_code=303)


async def change_password(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    incoming, account = await _authenticated_post(ctx, request)
    if account is None:
        return _form_expired(ctx)
    current, new = incoming.field("current_password") or "", incoming.field("new_password") or ""
    retry_after = await ctx.run(_password_throttle, ctx, account.email, failed=False)
    if retry_after:
        minutes = math.ceil(retry_after / 60)
        errors = {"current_password": f"Too many wrong passwords. Try again in {minutes} minute(s)."}
        response = await ctx.run(_render, ctx, account.user_id, account.csrf_token, None, errors, 429)
        response.headers["Retry-After"] = str(retry_after)
        return response
    assert ctx.password_slots is not None
    if not await verify_password_async(account.password_hash, current, ctx.password_slots):
        await ctx.run(_password_throttle, ctx, account.email, failed=True)
        errors = {"current_password": "The current password is wrong."}
        return await ctx.run(_render, ctx, account.user_id, account.csrf_token, None, errors, 400)
    try:
        await run_in_threadpool(check_new_password, new, (account.email, account.name))
    except PasswordRejected as rejected:
        errors = {"new_password": str(rejected).capitalize() + "."}
        return await ctx.run(_render, ctx, account.user_id, account.csrf_token, None, errors, 400)
    new_hash = await hash_password_async(new, ctx.password_slots)
    cookie = await ctx.run(_store_password, account.user_id, new_hash)
    response = RedirectResponse(f"{ctx.settings.issuer_url}/account?done=password", status_code=303)
    ctx.cookies.set(response, ctx.cookies.session, cookie)
    return response


async def logout(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    incoming, account = await _authenticated_post(ctx, request)
    if account is not None:
        await ctx.run(_log_out, account.user_id, incoming.cookies.get(ctx.cookies.session))
    response = RedirectResponse(f"{ctx.settings.issuer_url}/login?signed_out=1", status_code=303)
    if account is not None:
        ctx.cookies.clear(response, ctx.cookies.session)
    return response


ROUTES = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account/revoke", revoke_application, methods=["POST"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]


# Database work, in worker threads ----------------------------------------------------------


def _password_throttle(db: Session, ctx: AuthContext, email: str, *, failed: bool) -> int:
    """Seconds until the account may try its password again (0: now); ``failed`` counts a failure.

    Shares the login's per-account counter: a stolen session must not become a way around
    login throttling to guess the current password.
    """
    key, limit = throttle_key("account", email), ctx.settings.login_failures_per_account
    window = timedelta(seconds=ctx.settings.login_throttle_window)
    decision = hit(db, key, limit, window) if failed else check(db, key, limit, window)
    return decision.retry_after_seconds


async def _authenticated_post(ctx: AuthContext, request: Request) -> tuple[IncomingRequest, Account | None]:
    """The form and its signed-in user, if the session is live and the CSRF token is its own."""
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm:
        return IncomingRequest("POST", request.url.path, [], [], request.headers, {}), None
    account = await ctx.run(_account_of, incoming.cookies.get(ctx.cookies.session), incoming.field("csrf_token"))
    return incoming, account


def _account_of(db: Session, cookie: str | None, csrf_token: str | None) -> Account | None:
    signed_in = current_session(db, cookie)
    if signed_in is None or not tokens_match(signed_in.session.csrf_token, csrf_token):
        return None
    user = signed_in.user
    return Account(
        user.id, user.email, user.name, user.password_hash, signed_in.session.id_hash, signed_in.session.csrf_token
    )


def _log_out(db: Session, user_id: uuid.UUID, cookie: str | None) -> None:
    """End this browser session and revoke the user's refresh tokens (security.md: logout)."""
    end_session(db, cookie)
    revoke_refresh_tokens(db, user_id)
    audit.record(db, "logout", user_id=user_id)


def _revoke(db: Session, user_id: uuid.UUID, client_id: str) -> None:
    if not client_id or len(client_id) > 2048:
        return
    # Only this user's grant: a tampered client_id can at most revoke another of their own.
    revoke_grant(db, user_id, client_id)
    forget_consents(db, user_id, client_id)
    audit.record(db, "consent.revoke", user_id=user_id, client_id=client_id, via="account")


def _store_password(db: Session, user_id: uuid.UUID, new_hash: str) -> str:
    user = db.get(User, user_id)
    assert user is not None
    set_password(db, user, new_hash)  # ends every session, this one too
    audit.record(db, "user.password", user_id=user.id, target=user.email, via="account")
    return start_session(db, user, previous_cookie=None)


def _render_for_cookie(db: Session, ctx: AuthContext, cookie: str | None, notice: str | None) -> Response:
    signed_in: SignedIn | None = current_session(db, cookie)
    if signed_in is None:
        return RedirectResponse(f"{ctx.settings.issuer_url}/login", status_code=303)
    return _render(db, ctx, signed_in.user.id, signed_in.session.csrf_token, notice, {}, 200)


def _render(
    db: Session,
    ctx: AuthContext,
    user_id: uuid.UUID,
    csrf_token: str,
    notice: str | None,
    errors: dict[str, str],
    status: int,
) -> Response:
    user = db.get(User, user_id)
    assert user is not None
    applications = [
        {
            "client_id": app.client_id,
            "name": app.name,
            "scopes": [SCOPE_WORDS.get(scope, scope) for scope in app.scopes],
            "resources": app.resources,
            "last_used": app.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if app.last_used_at else "never",
        }
        for app in authorized_applications(db, user_id)
    ]
    return ctx.pages.render(
        "account.html",
        status=status,
        user_email=user.email,
        csrf_token=csrf_token,
        applications=applications,
        notice=notice,
        errors=errors,
    )


def _form_expired(ctx: AuthContext) -> Response:
    return ctx.pages.error("The form expired", "Open your account page again and retry.", status=403)
