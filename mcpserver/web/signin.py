"""Signing in to the web library: an ordinary confidential OAuth client of our authorization server.

``GET <web_path>/signin`` sends the browser to the authorization server's ``/authorize``
(authorization code, PKCE S256, ``state``, ``resource`` = this MCP server). The pending
sign-in (state, verifier, where to return) travels in a short-lived HttpOnly cookie,
signed with a key derived from the client secret, so nothing is stored before the user is
known. ``GET <web_path>/auth/callback`` checks ``state`` and ``iss`` (RFC 9207), redeems the
code at the token endpoint with the client secret, verifies the access token exactly as
the MCP endpoint does (signature, issuer, audience, then the revocation rules), and starts
the server-side session. The token itself is not kept: the library calls the repository
directly, as this user, and the session remembers only what revoking it depends on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mcpserver.auth import InvalidToken
from mcpserver.revocation import TokenRefused
from mcpserver.web.csrf import checked_form
from mcpserver.web.state import library
from mcpserver.web.templating import render
from shared.settings import SCOPES, WEB_CLIENT_ID

PENDING_SECONDS = 600
SCOPE = " ".join(SCOPES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signing_key(secret: str) -> bytes:
    return hashlib.sha256(b"shared-skills web sign-in state\0" + secret.encode()).digest()


def seal(payload: dict[str, Any], secret: str) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = _b64(hmac.new(_signing_key(secret), body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unseal(value: str | None, secret: str) -> dict[str, Any] | None:
    """The payload of a cookie made by :func:`seal`, or None when it was altered, is malformed or expired."""
    if not value or len(value) > 4096 or "." not in value:
        return None
    body, mac = value.rsplit(".", 1)
    expected = _b64(hmac.new(_signing_key(secret), body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int) or payload["exp"] < time.time():
        return None
    return payload


def safe_next(value: str | None, web_path: str) -> str:
    """A path inside the library to return to; anything else (another site, ``//host``) goes home."""
    if (
        value
        and (value == web_path or value.startswith(web_path + "/"))
        and "\\" not in value
        and not value.startswith("//")
    ):
        return value
    return web_path + "/workspaces"


async def signin(request: Request) -> Response:
    lib = library(request)
    secret = lib.client_secret
    assert secret is not None  # the app answers 503 before any route when it is missing
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(24)
    next_path = safe_next(request.query_params.get("next"), lib.settings.web_path)
    try:
        metadata = await lib.issuer_metadata()
    except (httpx.HTTPError, ValueError, KeyError):
        return _failed(request, "The authorization server could not be reached. Try again in a moment.", 502)
    params = {
        "response_type": "code",
        "client_id": WEB_CLIENT_ID,
        "redirect_uri": lib.settings.web_redirect_uri,
        "scope": SCOPE,
        "state": state,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
        "resource": lib.settings.resource_url,
    }
    response = RedirectResponse(f"{metadata['authorization_endpoint']}?{urlencode(params)}", status_code=303)
    pending = {"state": state, "verifier": verifier, "next": next_path, "exp": int(time.time()) + PENDING_SECONDS}
    lib.sessions.set_cookie(response, lib.sessions.signin_cookie_name, seal(pending, secret), max_age=PENDING_SECONDS)
    return response


def _failed(request: Request, message: str, status_code: int = 400) -> Response:
    return render(
        request,
        "errors/error.html",
        {"title": "Sign-in did not complete", "message": message, "offer_signin": True},
        status_code=status_code,
    )


async def callback(request: Request) -> Response:
    lib = library(request)
    secret = lib.client_secret
    assert secret is not None
    query = request.query_params
    pending = unseal(request.cookies.get(lib.sessions.signin_cookie_name), secret)
    state = query.get("state") or ""
    if pending is None or not hmac.compare_digest(str(pending.get("state", "")).encode(), state.encode()):
        return _failed(request, "This sign-in was started in another browser, took too long or was already used.")
    if query.get("iss") != lib.settings.issuer_url:
        return _failed(request, "The answer did not come from this library's authorization server.")
    if error := query.get("error"):
        if error == "access_denied":
            return _failed(request, "You did not allow the web library to use your account.", 403)
        return _failed(request, f"The authorization server answered: {error}.")
    code = query.get("code")
    if not code:
        return _failed(request, "The answer carried no authorization code.")
    try:
        metadata = await lib.issuer_metadata()
        answer = await lib.http.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": lib.settings.web_redirect_uri,
                "code_verifier": pending["verifier"],
                "resource": lib.settings.resource_url,
            },
            auth=(WEB_CLIENT_ID, secret),
        )
        tokens = answer.json()
    except (httpx.HTTPError, ValueError, KeyError):
        return _failed(request, "The authorization server could not be reached. Try again in a moment.", 502)
    if answer.status_code != 200 or not isinstance(tokens, dict) or "access_token" not in tokens:
        problem = tokens.get("error") if isinstance(tokens, dict) else None
        return _failed(request, f"The authorization server refused the sign-in ({problem or answer.status_code}).")
    try:
        token = await lib.verifier.verify(str(tokens["access_token"]))
        if token.client_id != WEB_CLIENT_ID or token.subject is None:
            raise InvalidToken("the token was issued to another client")
        issued_at = int(token.claims.get("iat") or 0) if token.claims else 0
        user_id = await lib.revocations.check(token.subject, token.client_id, issued_at)
    except (InvalidToken, TokenRefused) as exc:
        return _failed(request, f"The sign-in cannot be accepted: {exc}.", 403)
    cookie = await lib.sessions.start(user_id, token.client_id, " ".join(token.scopes), issued_at)
    response = RedirectResponse(safe_next(str(pending.get("next")), lib.settings.web_path), status_code=303)
    lib.sessions.clear_cookie(response, lib.sessions.signin_cookie_name)
    lib.sessions.set_cookie(
        response, lib.sessions.cookie_name, cookie, max_age=lib.settings.web_session_lifetime_seconds
    )
    return response


async def signout(request: Request) -> Response:
    lib = library(request)
    await checked_form(request, bucket=None)  # signing out always works, whatever the rate limit
    await lib.sessions.end(request.cookies.get(lib.sessions.cookie_name))
    response = RedirectResponse(lib.settings.web_path + "/signed-out", status_code=303)
    lib.sessions.clear_cookie(response, lib.sessions.cookie_name)
    return response


async def signed_out(request: Request) -> Response:
    request.scope["web_session"] = None
    # The authorization server's sign-out is a POST with its own session's CSRF token, which the
    # library cannot know (and should not): its account page, one click away, has the button.
    return render(request, "signed_out.html", {"account_url": library(request).settings.issuer_url + "/account"})


def routes() -> list[BaseRoute]:
    return [
        Route("/signin", signin, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/signed-out", signed_out, methods=["GET"]),
    ]
