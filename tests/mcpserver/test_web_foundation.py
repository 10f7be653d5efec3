"""Pure parts of the web library's foundation: cookie flags and headers per public URL, the
signed pending sign-in, and where a sign-in may return to."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from starlette.responses import Response

from mcpserver.web.app import content_security_policy, security_headers
from mcpserver.web.session import SessionStore
from mcpserver.web.signin import safe_next, seal, unseal
from shared.settings import Settings


def _settings(resource_url: str, **more: Any) -> Settings:
    return Settings(resource_url=resource_url, issuer_url="https://auth.example.com", **more)


def _store(settings: Settings) -> SessionStore:
    # The store's database and revocation check are not touched by the cookie helpers.
    return SessionStore(settings, cast(Any, None), cast(Any, None))


def test_https_gives_host_prefixed_secure_cookies_and_hsts() -> None:
    settings = _settings("https://skills.example.com/mcp")
    store = _store(settings)
    response = Response()
    store.set_cookie(response, store.cookie_name, "opaque", max_age=60)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-skills_library=opaque;")
    for flag in ("HttpOnly", "Path=/", "SameSite=lax", "Secure"):
        assert flag in cookie
    assert "Domain" not in cookie
    headers = security_headers(settings)
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert settings.web_redirect_uri == "https://skills.example.com/library/auth/callback"


def test_plain_http_loopback_drops_the_prefix_and_secure_but_keeps_the_rest() -> None:
    store = _store(_settings("http://127.0.0.1:8000/mcp"))
    response = Response()
    store.set_cookie(response, store.cookie_name, "opaque")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("skills_library=opaque;") and "Secure" not in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Strict-Transport-Security" not in security_headers(_settings("http://127.0.0.1:8000/mcp"))


def test_the_policy_names_no_source_but_ourselves_and_the_issuer() -> None:
    csp = content_security_policy(_settings("https://skills.example.com/mcp"))
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert csp.replace("https://auth.example.com", "").count("http") == 0
    assert "form-action 'self' https://auth.example.com;" in csp


def test_a_pending_sign_in_survives_only_untouched_and_in_time() -> None:
    payload = {"state": "s", "verifier": "v", "next": "/library/x", "exp": int(time.time()) + 60}
    sealed = seal(payload, "secret")
    assert unseal(sealed, "secret") == payload
    assert unseal(sealed, "another secret") is None
    body, mac = sealed.rsplit(".", 1)
    assert unseal(body[:-2] + "AA." + mac, "secret") is None
    assert unseal(seal({**payload, "exp": int(time.time()) - 1}, "secret"), "secret") is None
    for junk in (None, "", "no-dot", "x" * 5000, "a.b"):
        assert unseal(junk, "secret") is None


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/library/workspaces/team", True),
        ("/library/snippets/search?q=a", True),
        ("/library", True),
        ("https://evil.example/library/x", False),
        ("//evil.example/library", False),
        ("/libraryx/steal", False),
        ("/library\\..\\evil", False),
        ("/mcp", False),
        (None, False),
    ],
)
def test_a_sign_in_returns_only_to_pages_of_the_library(given: str | None, kept: bool) -> None:
    assert (safe_next(given, "/library") == given) is kept
    if not kept:
        assert safe_next(given, "/library") == "/library/workspaces"


@pytest.mark.parametrize("path", ["library", "/", "/a b", "/../x", ""])
def test_web_path_must_be_a_plain_path(path: str) -> None:
    with pytest.raises(ValueError, match="must be a path"):
        _settings("https://skills.example.com/mcp", web_path=path)


def test_the_secret_comes_from_the_setting_then_the_file(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.web_secret() is None
    (tmp_path / "web_client_secret").write_text("from-file\n")
    assert settings.web_secret() == "from-file"
    assert Settings(data_dir=tmp_path, web_client_secret="from-env").web_secret() == "from-env"
