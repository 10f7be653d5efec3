"""The login page and the browser session: same answer for every failure, CSRF, cookies, headers."""

from __future__ import annotations

import httpx
import pytest

from authserver.hashing import secret_hash
from authserver.sessions import Cookies
from shared.models import BrowserSession
from tests.authserver.auth_browser import (
    EMAIL,
    PASSWORD,
    Pkce,
    authorize_params,
    follow,
    parse_form,
    query_of,
    register,
    sign_in,
)
from tests.authserver.conftest import RunningServer

REDIRECT = "http://127.0.0.1:51234/callback"


def login_page(http: httpx.Client) -> httpx.Response:
    client = register(http, [REDIRECT], client_name="Login Test")
    return follow(http, http.get("/authorize", params=authorize_params(client["client_id"], REDIRECT, Pkce())))


def test_login_form_has_the_fields_a_browser_submits(http: httpx.Client, auth_server: RunningServer) -> None:
    form = parse_form(login_page(http).text)
    assert form.method == "post"
    assert form.action == f"{auth_server.issuer}/login"
    assert set(form.inputs) == {"request", "csrf_token", "email", "password"}
    assert form.inputs["request"] and form.inputs["csrf_token"]


def test_unknown_email_and_wrong_password_get_the_same_answer(http: httpx.Client) -> None:
    page = login_page(http)

    unknown = sign_in(http, page, email="nobody@example.com", password=PASSWORD)
    wrong = sign_in(http, page, email=EMAIL, password="not the password")
    empty = sign_in(http, page, email="", password="")

    assert unknown.status_code == wrong.status_code == empty.status_code == 400
    assert unknown.text == wrong.text == empty.text
    assert "location" not in unknown.headers and "set-cookie" not in wrong.headers
    assert sign_in(http, page).status_code == 303  # the same form still works


def test_email_is_case_insensitive(http: httpx.Client) -> None:
    assert sign_in(http, login_page(http), email="  ALICE@Example.com ").status_code == 303


def test_login_needs_the_csrf_cookie_and_token(http: httpx.Client) -> None:
    form = parse_form(login_page(http).text)
    forged = http.post(form.action, data=form.hidden_and(email=EMAIL, password=PASSWORD, csrf_token="forged"))
    assert forged.status_code == 403

    with httpx.Client(base_url=str(http.base_url), follow_redirects=False) as stranger:  # no cookie
        cross_site = stranger.post(form.action, data=form.hidden_and(email=EMAIL, password=PASSWORD))
    assert cross_site.status_code == 403 and "set-cookie" not in cross_site.headers


def test_login_creates_a_hashed_session_with_a_safe_cookie(http: httpx.Client, auth_server: RunningServer) -> None:
    response = sign_in(http, login_page(http))

    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("skills_session="))
    attributes = {part.strip().lower() for part in session_cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain-http loopback development only
    value = http.cookies["skills_session"]
    with auth_server.db() as db:
        assert db.get(BrowserSession, secret_hash(value)) is not None
        assert db.get(BrowserSession, value) is None


def test_secure_deployments_use_host_prefixed_cookies() -> None:
    assert Cookies(secure=True).session == "__Host-skills_session"
    assert Cookies(secure=False).session == "skills_session"


def test_login_rotates_the_session(http: httpx.Client, auth_server: RunningServer) -> None:
    page = login_page(http)
    form = parse_form(page.text)
    sign_in(http, page)
    first = http.cookies["skills_session"]

    # Log in again on the same browser with a fresh login form (new CSRF cookie and token).
    http.cookies.set("skills_login_csrf", "c" * 43, domain="127.0.0.1")
    again = http.post(form.action, data=form.hidden_and(email=EMAIL, password=PASSWORD, csrf_token="c" * 43))

    assert again.status_code == 303
    second = http.cookies["skills_session"]
    assert second != first
    with auth_server.db() as db:
        assert db.get(BrowserSession, secret_hash(first)) is None
        assert db.get(BrowserSession, secret_hash(second)) is not None


def test_unknown_or_used_request_id_is_refused(http: httpx.Client) -> None:
    response = http.get("/login", params={"request": "made-up"})
    assert response.status_code == 400
    assert http.get("/consent", params={"request": "made-up"}).status_code == 400


def test_consent_without_session_goes_to_login(http: httpx.Client, auth_server: RunningServer) -> None:
    request_id = query_of(str(login_page(http).url))["request"]
    response = http.get("/consent", params={"request": request_id})
    assert response.status_code == 303
    assert response.headers["location"] == f"{auth_server.issuer}/login?request={request_id}"


@pytest.fixture
def html_pages(http: httpx.Client) -> dict[str, httpx.Response]:
    """One of each page: login, consent, the /authorize error page, and a failed login."""
    login = login_page(http)
    consent = follow(http, sign_in(http, login))
    error = http.get("/authorize", params={"client_id": "nope"})
    with httpx.Client(base_url=str(http.base_url)) as other_browser:
        failed = sign_in(other_browser, login_page(other_browser), password="wrong password")
    return {"login": login, "consent": consent, "error": error, "failed-login": failed}


@pytest.mark.parametrize("page", ["login", "consent", "error", "failed-login"])
def test_every_page_sends_the_security_headers(html_pages: dict[str, httpx.Response], page: str) -> None:
    response = html_pages[page]
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("page", ["login", "consent", "error"])
def test_pages_load_nothing_from_third_parties(
    html_pages: dict[str, httpx.Response], auth_server: RunningServer, http: httpx.Client, page: str
) -> None:
    text = html_pages[page].text
    for marker in ('src="', 'href="', "url("):
        for part in text.split(marker)[1:]:
            target = part.split('"')[0]
            assert target.startswith(auth_server.issuer + "/"), target
    assert "<script" not in text
    assert http.get("/static/auth.css").status_code == 200


def test_consent_csp_allows_the_form_to_reach_the_redirect_uri(html_pages: dict[str, httpx.Response]) -> None:
    csp = html_pages["consent"].headers["content-security-policy"]
    assert "form-action 'self' http://127.0.0.1:51234" in csp
