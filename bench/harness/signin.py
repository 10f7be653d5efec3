"""Tokens from the real authorization server, the way a client and a person get them.

A public client registers itself (RFC 7591); each benchmark user signs in through the HTML
login and consent forms with plain HTTP posts (no JavaScript is needed by design), and the
client redeems the code at ``/token`` (PKCE S256, RFC 8707 ``resource``). The access tokens
drive the MCP scenarios; the refresh tokens feed the refresh-grant scenario.

Only the code-grant scenario takes a shortcut, because it needs thousands of fresh codes: it
writes them straight into ``authorization_codes`` exactly as ``/authorize`` + consent would
(the server's model and hash helper), and then redeems them through the real ``/token``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from sqlalchemy import insert

from shared.db import make_engine
from shared.models import AuthorizationCode, utcnow

REDIRECT_URI = "http://127.0.0.1:1/callback"
SCOPE = "snippets:read snippets:write workspaces:write offline_access"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class _Forms(HTMLParser):
    """The forms of a page: action, hidden and visible inputs, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif self.forms and tag in ("input", "button") and a.get("name"):
            form = self.forms[-1]
            if tag == "button" or a.get("type") == "submit":
                form["buttons"].append((a["name"], a.get("value", "")))  # type: ignore[attr-defined]
            else:
                form["fields"][a["name"]] = a.get("value", "")  # type: ignore[index]


def forms_of(html: str) -> list[dict[str, object]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Tokens:
    user: uuid.UUID
    access_token: str
    refresh_token: str


@dataclass
class PendingLogin:
    """What a login form post needs: the pending request id and the CSRF double-submit pair."""

    request_id: str
    csrf_token: str
    cookie_name: str


class Browser:
    """One person's browser at the authorization server: a cookie jar and form posts."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    def close(self) -> None:
        self.http.close()

    def _follow(self, response: httpx.Response) -> httpx.Response | str:
        while response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if not target.startswith(self.issuer + "/"):
                return target
            response = self.http.get(target)
        return response

    def start(self, client_id: str, resource: str) -> tuple[httpx.Response | str, str]:
        verifier, challenge = pkce_pair()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": REDIRECT_URI,
                "scope": SCOPE,
                "state": secrets.token_urlsafe(8),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "resource": resource,
            }
        )
        return self._follow(self.http.get(f"{self.issuer}/authorize?{query}")), verifier

    def authorize(self, client_id: str, resource: str, email: str, password: str) -> tuple[str, str]:
        """Sign in (if needed) and allow; returns the code and the PKCE verifier."""
        page, verifier = self.start(client_id, resource)
        for _ in range(4):
            if isinstance(page, str):
                params = parse_qs(urlsplit(page).query)
                if "code" not in params:
                    raise RuntimeError(f"the authorization server refused: {page}")
                return params["code"][0], verifier
            forms = forms_of(page.text)
            if not forms:
                raise RuntimeError(f"no form on {page.url} ({page.status_code}): {page.text[:300]}")
            form = forms[0]
            fields: dict[str, str] = dict(form["fields"])  # type: ignore[call-overload]
            if "password" in fields:
                fields.update(email=email, password=password)
            elif any(name == "decision" for name, _ in form["buttons"]):  # type: ignore[attr-defined]
                fields["decision"] = "allow"
            else:
                raise RuntimeError(f"unexpected page {page.url} ({page.status_code}): {page.text[:300]}")
            page = self._follow(self.http.post(urljoin(str(page.url), str(form["action"])), data=fields))
        raise RuntimeError("sign-in did not finish")

    def pending_login(self, client_id: str, resource: str) -> PendingLogin:
        """Open the login page of a fresh authorization request (for the login scenario)."""
        page, _ = self.start(client_id, resource)
        if isinstance(page, str) or not forms_of(page.text):
            raise RuntimeError(f"expected the login page, got {page}")
        fields: dict[str, str] = dict(forms_of(page.text)[0]["fields"])  # type: ignore[call-overload]
        cookie = next(name for name in self.http.cookies if "login_csrf" in name)
        return PendingLogin(fields["request"], fields["csrf_token"], cookie)


def register_client(issuer: str) -> str:
    response = httpx.post(
        f"{issuer}/register",
        json={
            "client_name": "shared-skills benchmark",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
        timeout=30,
    )
    if response.status_code != 201:
        raise RuntimeError(f"client registration failed: {response.status_code} {response.text[:300]}")
    client_id: str = response.json()["client_id"]
    return client_id


def redeem(issuer: str, client_id: str, resource: str, code: str, verifier: str) -> dict[str, str]:
    response = httpx.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": resource,
        },
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"code redemption failed: {response.status_code} {response.text[:300]}")
    body: dict[str, str] = response.json()
    return body


class SignIns:
    """Signed-in users of one run: one browser each, reused for further grants without a new login."""

    def __init__(self, issuer: str, resource: str, client_id: str) -> None:
        self.issuer, self.resource, self.client_id = issuer, resource, client_id
        self.browsers: dict[uuid.UUID, tuple[Browser, str]] = {}

    def grant(self, user: uuid.UUID, email: str, password: str) -> Tokens:
        """A fresh token pair (and refresh-token family) for ``user``: login once, then consent only."""
        if user not in self.browsers:
            self.browsers[user] = (Browser(self.issuer), email)
        browser, _ = self.browsers[user]
        code, verifier = browser.authorize(self.client_id, self.resource, email, password)
        body = redeem(self.issuer, self.client_id, self.resource, code, verifier)
        return Tokens(user, body["access_token"], body["refresh_token"])

    def close(self) -> None:
        for browser, _ in self.browsers.values():
            browser.close()


def write_codes(
    admin_url: str, client_id: str, resource: str, users: list[uuid.UUID], count: int
) -> tuple[list[str], str]:
    """``count`` fresh authorization codes, stored as /authorize + consent store them; and the verifier."""
    verifier, challenge = pkce_pair()
    now = utcnow()
    codes = [secrets.token_urlsafe(32) for _ in range(count)]
    from authserver.hashing import secret_hash  # the server's own helper

    rows = [
        {
            "code_hash": secret_hash(code),
            "client_id": client_id,
            "user_id": users[i % len(users)],
            "redirect_uri": REDIRECT_URI,
            "scope": SCOPE,
            "resource": resource,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "created_at": now,
            "expires_at": now + timedelta(minutes=10),
            "family_id": uuid.uuid4(),
        }
        for i, code in enumerate(codes)
    ]
    engine = make_engine(admin_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(AuthorizationCode), rows)
    finally:
        engine.dispose()
    return codes, verifier
