"""The login page: email and password, for a pending authorization request or for the account page.

Unknown email, wrong password and disabled account answer the same page with the same
status, after the same work (a dummy hash is verified when there is no account).

Failures are counted per typed email and per client address (:mod:`authserver.throttle`);
past either limit the page answers 429 with ``Retry-After`` before any password is checked,
until the window ends. The count is keyed by what was typed, so it says nothing about which
accounts exist, and it expires: the right password works again after one window.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from authserver import audit
from authserver.clients import Client, find_client
from authserver.context import AuthContext
from authserver.passwords import hash_password_async, needs_rehash, verify_password_async
from authserver.pending import find_pending
from authserver.server import BadForm, IncomingRequest
from authserver.sessions import current_session, start_session, tokens_match
from authserver.throttle import check_all, hit, reset, throttle_key
from authserver.users import find_user_by_email
from authserver.web.consent import _csp_source
from shared.models import User

THROTTLE_BUCKETS = ("login_account", "login_address")
"""Metric buckets of the two limits of :func:`_limits`, in its order."""
_CSRF_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,64}")


@dataclass(frozen=True)
class ClientShown:
    """The client as the login form names it, and where the form's redirects may end."""

    name: str | None = None  # None: signing in to the account page
    form_targets: tuple[str, ...] = ()  # the client's redirect origin (consent remembered)


@dataclass(frozen=True)
class LoginAttempt:
    """What a POST needs from the database before the (slow) password check.

    The client is looked up only for a page that shows it (throttled here, or a failure later,
    :func:`_record_failure`): a successful login redirects without it.
    """

    pending_ok: bool
    user: User | None = None  # detached; None: no such account, or disabled
    password_hash: str | None = None
    pending_client_id: str | None = None
    pending_params: dict[str, Any] = field(default_factory=dict)
    retry_after: int = 0  # > 0: throttled, refused before checking the password
    throttled_by: tuple[str, ...] = ()  # the limits it is over: login_account, login_address
    shown: ClientShown = ClientShown()  # only when throttled
    account_failures: int = 0  # the account's failures in the window: a success clears them


def client_address(request: Request) -> str:
    """The peer's address (the proxy's, unless SKILLS_FORWARDED_ALLOW_IPS trusts it to forward ours)."""
    return request.client.host if request.client else "unknown"


async def login(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm:
        return ctx.pages.error("Sign-in failed", "The form could not be read.")
    if incoming.method == "GET":
        return await ctx.run(_login_page, ctx, incoming)
    return await _login_submit(ctx, incoming, client_address(request))


def _after_login(ctx: AuthContext, request_id: str) -> str:
    """Where a signed-in browser goes: consent for a pending request, else the account page."""
    if request_id:
        return f"{ctx.settings.issuer_url}/consent?request={request_id}"
    return f"{ctx.settings.issuer_url}/account"


def _login_page(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    query = dict(incoming.query)
    request_id = query.get("request", "")
    shown = ClientShown()
    if request_id:
        pending = find_pending(db, request_id)
        if pending is None:
            return ctx.pages.expired_request()
        shown = _client_shown(db, pending.client_id, pending.params)
    if current_session(db, incoming.cookies.get(ctx.cookies.session)) is not None:
        return RedirectResponse(_after_login(ctx, request_id), status_code=303)
    return _form(ctx, incoming, request_id, shown, signed_out="signed_out" in query)


def _client_shown(db: Session, client_id: str | None, params: dict[str, Any]) -> ClientShown:
    """What the form shows of a pending request's client; nothing for the account page (no client)."""
    if client_id is None:
        return ClientShown()
    client = find_client(db, client_id)
    return ClientShown(client.name if client else client_id, _client_target(params, client))


def _client_target(params: dict[str, Any], client: Client | None) -> tuple[str, ...]:
    """The client's redirect origin: with consent remembered, the form's redirects end there, and
    browsers apply the page's ``form-action`` to every redirect that follows a submission."""
    redirect_uri = params.get("redirect_uri") or (client.get_default_redirect_uri() if client else None)
    return (_csp_source(redirect_uri),) if isinstance(redirect_uri, str) and redirect_uri else ()


async def _login_submit(ctx: AuthContext, incoming: IncomingRequest, address: str) -> Response:
    request_id = incoming.field("request") or ""
    if not tokens_match(incoming.cookies.get(ctx.cookies.login_csrf), incoming.field("csrf_token")):
        return ctx.pages.error("Sign-in failed", "The form expired. Start signing in again.", status=403)
    email, password = incoming.field("email") or "", incoming.field("password") or ""
    attempt = await ctx.run(_prepare_attempt, ctx, request_id, email, address)
    if not attempt.pending_ok:
        return ctx.pages.expired_request()
    if attempt.retry_after:
        for bucket in attempt.throttled_by:
            ctx.metrics.rate_limit_hits.labels(bucket).inc()
        return _form(ctx, incoming, request_id, attempt.shown, retry_after=attempt.retry_after)
    assert ctx.password_slots is not None
    verified = await verify_password_async(attempt.password_hash, password, ctx.password_slots)
    if not verified or attempt.user is None:
        shown = await ctx.run(_record_failure, ctx, email, address, attempt)
        ctx.metrics.login("failed")
        return _form(ctx, incoming, request_id, shown, failed=True)
    upgraded = None
    if attempt.password_hash and needs_rehash(attempt.password_hash):
        upgraded = await hash_password_async(password, ctx.password_slots)
    previous_cookie = incoming.cookies.get(ctx.cookies.session)
    cookie = await ctx.run(_sign_in, attempt, previous_cookie, upgraded, email, address)
    ctx.metrics.login("succeeded")
    response = RedirectResponse(_after_login(ctx, request_id), status_code=303)
    ctx.cookies.set(response, ctx.cookies.session, cookie)
    ctx.cookies.clear(response, ctx.cookies.login_csrf)
    return response


def _limits(ctx: AuthContext, email: str, address: str) -> list[tuple[str, int]]:
    settings = ctx.settings
    return [
        (throttle_key("account", email), settings.login_failures_per_account),
        (throttle_key("addr", address), settings.login_failures_per_address),
    ]


def _prepare_attempt(db: Session, ctx: AuthContext, request_id: str, email: str, address: str) -> LoginAttempt:
    client_id, params = None, {}
    if request_id:
        pending = find_pending(db, request_id)
        if pending is None:
            return LoginAttempt(False)
        client_id, params = pending.client_id, pending.params
    window = timedelta(seconds=ctx.settings.login_throttle_window)
    decisions = check_all(db, _limits(ctx, email, address), window)
    retry_after = max(d.retry_after_seconds for d in decisions)
    if retry_after:
        over = tuple(bucket for bucket, d in zip(THROTTLE_BUCKETS, decisions, strict=True) if d.retry_after_seconds)
        shown = _client_shown(db, client_id, params)
        return LoginAttempt(True, retry_after=retry_after, throttled_by=over, shown=shown)
    user = find_user_by_email(db, email) if email else None
    return LoginAttempt(
        pending_ok=True,
        user=user if user is not None and user.disabled_at is None else None,
        # A disabled account is still verified against its own hash: same work, same answer.
        password_hash=user.password_hash if user is not None else None,
        pending_client_id=client_id,
        pending_params=params,
        account_failures=decisions[0].counted,
    )


def _record_failure(db: Session, ctx: AuthContext, email: str, address: str, attempt: LoginAttempt) -> ClientShown:
    """Count the failure against both limits and audit it; returns what the form shows of the client."""
    window = timedelta(seconds=ctx.settings.login_throttle_window)
    for key, limit in _limits(ctx, email, address):
        hit(db, key, limit, window)
    audit.record(db, "login.failed", target=audit.typed_email(email), address=address)
    return _client_shown(db, attempt.pending_client_id, attempt.pending_params)


def _sign_in(
    db: Session,
    attempt: LoginAttempt,
    previous_cookie: str | None,
    upgraded_hash: str | None,
    email: str,
    address: str,
) -> str:
    user = attempt.user
    assert user is not None
    if upgraded_hash is not None:
        db.execute(update(User).where(User.id == user.id).values(password_hash=upgraded_hash))
    # The account's failures are forgiven; the address's are not (an attacker with an account
    # of their own must not be able to clear the counter of the address they guess from).
    # None counted before the password check: nothing to forgive (a failure counted since then
    # stays, as if it had come after this login).
    if attempt.account_failures:
        reset(db, throttle_key("account", email))
    audit.record(db, "login.succeeded", user_id=user.id, target=user.email, address=address)
    return start_session(db, user, previous_cookie)


def _form(
    ctx: AuthContext,
    incoming: IncomingRequest,
    request_id: str,
    shown: ClientShown,
    *,
    failed: bool = False,
    retry_after: int = 0,
    signed_out: bool = False,
) -> Response:
    csrf = incoming.cookies.get(ctx.cookies.login_csrf, "")
    fresh = not _CSRF_SHAPE.fullmatch(csrf)
    if fresh:
        csrf = secrets.token_urlsafe(32)
    status = 429 if retry_after else 400 if failed else 200
    response = ctx.pages.render(
        "login.html",
        status=status,
        form_targets=shown.form_targets,
        request_id=request_id,
        csrf_token=csrf,
        client_name=shown.name,
        failed=failed,
        retry_minutes=math.ceil(retry_after / 60) if retry_after else 0,
        signed_out=signed_out,
    )
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    if fresh:
        ctx.cookies.set(response, ctx.cookies.login_csrf, csrf)
    return response
