"""A browser and an OAuth client, driving the authorization server over real HTTP.

Forms are submitted the way a browser does: parse the HTML, send every input it holds, plus
what the person types or clicks.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

PASSWORD = "correct horse battery staple"
EMAIL = "alice@example.com"
RESOURCE = "http://127.0.0.1:8000/mcp"
OTHER_RESOURCE = "https://skills.example.com/mcp"


# HTML forms --------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    inputs: dict[str, str] = field(default_factory=dict)  # every named <input> (hidden or not)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of submit buttons

    def hidden_and(self, **values: str) -> dict[str, str]:
        """The form as a browser submits it: every input's value, overridden by ``values``."""
        return {**self.inputs, **values}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a.get("action", ""), method=a.get("method", "get").lower()))
        elif tag == "input" and self.forms and "name" in a:
            self.forms[-1].inputs[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and "name" in a:
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def parse_form(html: str) -> Form:
    parser = _FormParser()
    parser.feed(html)
    assert len(parser.forms) == 1, f"expected one form, found {len(parser.forms)}"
    return parser.forms[0]


# The OAuth client side ---------------------------------------------------------------------


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def register(http: httpx.Client, redirect_uris: list[str], **metadata: Any) -> dict[str, Any]:
    body = {
        "redirect_uris": redirect_uris,
        "client_name": "Test Client",
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }
    response = http.post("/register", json=body)
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


def authorize_params(client_id: str, redirect_uri: str, pkce: Pkce, /, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": secrets.token_urlsafe(8),
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
        **overrides,
    }
    return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def follow(http: httpx.Client, response: httpx.Response) -> httpx.Response:
    """Follow one redirect to our own server (absolute Location)."""
    assert response.status_code in (302, 303), (response.status_code, response.text)
    location = response.headers["location"]
    assert location.startswith(str(http.base_url).rstrip("/")), location
    return http.get(location)


def sign_in(
    http: httpx.Client, login_page: httpx.Response, email: str = EMAIL, password: str = PASSWORD
) -> httpx.Response:
    """Submit the login form as a browser would: every hidden input plus email and password."""
    assert login_page.status_code == 200, login_page.text
    form = parse_form(login_page.text)
    assert form.method == "post"
    return http.post(form.action, data=form.hidden_and(email=email, password=password))


def decide(http: httpx.Client, consent_page: httpx.Response, decision: str) -> httpx.Response:
    assert consent_page.status_code == 200, consent_page.text
    form = parse_form(consent_page.text)
    assert ("decision", decision) in form.buttons
    return http.post(form.action, data=form.hidden_and(decision=decision))


@dataclass
class Authorized:
    """The end of a successful authorization: the final redirect and what the client needs next."""

    client: dict[str, Any]
    pkce: Pkce
    redirect_uri: str
    params: dict[str, str]
    location: str

    @property
    def callback(self) -> dict[str, str]:
        return query_of(self.location)

    @property
    def code(self) -> str:
        return self.callback["code"]

    def token_request(self, **overrides: str | None) -> dict[str, str]:
        data: dict[str, str | None] = {
            "grant_type": "authorization_code",
            "code": self.code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client["client_id"],
            "code_verifier": self.pkce.verifier,
            "resource": RESOURCE,
            **overrides,
        }
        return {k: v for k, v in data.items() if v is not None}


def authorize_through_browser(
    http: httpx.Client,
    *,
    client: dict[str, Any] | None = None,
    redirect_uri: str = "http://127.0.0.1:51234/callback",
    decision: str = "allow",
    **overrides: str | None,
) -> Authorized:
    """Register (unless given a client), /authorize, log in, decide; returns the client redirect."""
    client = client or register(http, [redirect_uri])
    pkce = Pkce()
    params = authorize_params(client["client_id"], redirect_uri, pkce, **overrides)
    page = follow(http, http.get("/authorize", params=params))
    if parse_form(page.text).inputs.get("email") is not None:  # the login page
        page = follow(http, sign_in(http, page))
    final = decide(http, page, decision)
    assert final.status_code == 302, final.text
    return Authorized(client, pkce, redirect_uri, params, final.headers["location"])
