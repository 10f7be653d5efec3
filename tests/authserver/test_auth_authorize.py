"""The authorization endpoint: what is refused on a page, what is redirected, and how."""

from __future__ import annotations

import httpx
import pytest

from tests.authserver.auth_browser import OTHER_RESOURCE, Pkce, authorize_params, query_of, register
from tests.authserver.conftest import RunningServer

LOOPBACK = "http://127.0.0.1:33418/callback"


@pytest.fixture
def client(http: httpx.Client) -> dict[str, object]:
    return register(http, [LOOPBACK, "https://app.example/oauth/cb"])


def assert_error_page(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")


def assert_error_redirect(response: httpx.Response, issuer: str, redirect_to: str, error: str, state: str) -> None:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(redirect_to + "?")
    params = query_of(location)
    assert params["error"] == error
    assert params["state"] == state
    assert params["iss"] == issuer
    assert "code" not in params


def test_unknown_client_gets_an_error_page_not_a_redirect(http: httpx.Client) -> None:
    params = authorize_params("no-such-client", LOOPBACK, Pkce())
    assert_error_page(http.get("/authorize", params=params))


def test_missing_client_id_gets_an_error_page(http: httpx.Client) -> None:
    params = authorize_params("x", LOOPBACK, Pkce())
    del params["client_id"]
    assert_error_page(http.get("/authorize", params=params))


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/cb",
        "https://app.example/oauth/cb/../../evil",
        "https://app.example/oauth/cb?extra=1",
        "https://app.example:8443/oauth/cb",
        "http://app.example/oauth/cb",
        "http://127.0.0.1:33418/other",
        "http://localhost:33418/callback",
        "http://127.0.0.1:33418/callback#frag",
        "http://user@127.0.0.1:33418/callback",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page(
    http: httpx.Client, client: dict[str, str], redirect_uri: str
) -> None:
    # Even with other problems (no PKCE), the redirect URI is judged first: never redirect to it.
    params = authorize_params(client["client_id"], redirect_uri, Pkce(), code_challenge=None)
    assert_error_page(http.get("/authorize", params=params))


def test_several_registered_redirect_uris_require_one_in_the_request(
    http: httpx.Client, client: dict[str, str]
) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), redirect_uri=None)
    assert_error_page(http.get("/authorize", params=params))


def test_loopback_redirect_matches_on_any_port(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer
) -> None:
    params = authorize_params(client["client_id"], "http://127.0.0.1:50999/callback", Pkce())
    response = http.get("/authorize", params=params)

    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(f"{auth_server.issuer}/login?request=")


def test_exact_https_redirect_is_accepted(http: httpx.Client, client: dict[str, str]) -> None:
    response = http.get(
        "/authorize", params=authorize_params(client["client_id"], "https://app.example/oauth/cb", Pkce())
    )
    assert response.status_code == 303


@pytest.mark.parametrize(
    "overrides",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge": "too-short"},
        {"code_challenge": "!" * 43},
    ],
    ids=["no-pkce", "no-challenge", "plain", "no-method", "short-challenge", "bad-characters"],
)
def test_pkce_is_mandatory_and_s256_only(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer, overrides: dict[str, str | None]
) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), **overrides)
    response = http.get("/authorize", params=params)
    assert_error_redirect(response, auth_server.issuer, LOOPBACK, "invalid_request", params["state"])


def test_repeated_pkce_challenge_is_refused(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer
) -> None:
    params = [*authorize_params(client["client_id"], LOOPBACK, Pkce()).items(), ("code_challenge", Pkce().challenge)]
    response = http.get("/authorize", params=params)
    assert response.status_code == 302
    assert query_of(response.headers["location"])["error"] == "invalid_request"


@pytest.mark.parametrize(
    "resource",
    ["https://evil.example/mcp", "http://127.0.0.1:8000/other", "http://127.0.0.1:8000/mcp#x", "not a url"],
)
def test_unknown_resource_is_invalid_target(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer, resource: str
) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), resource=resource)
    response = http.get("/authorize", params=params)
    assert_error_redirect(response, auth_server.issuer, LOOPBACK, "invalid_target", params["state"])


@pytest.mark.parametrize("resource", ["http://127.0.0.1:8000/mcp/", OTHER_RESOURCE, None])
def test_known_resource_with_or_without_trailing_slash_is_accepted(
    http: httpx.Client, client: dict[str, str], resource: str | None
) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), resource=resource)
    assert http.get("/authorize", params=params).status_code == 303


def test_unknown_scope_is_invalid_scope(http: httpx.Client, client: dict[str, str], auth_server: RunningServer) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), scope="snippets:read admin")
    response = http.get("/authorize", params=params)
    assert_error_redirect(response, auth_server.issuer, LOOPBACK, "invalid_scope", params["state"])


@pytest.mark.parametrize("response_type", ["token", "code id_token", "", 'co"de'])
def test_only_response_type_code(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer, response_type: str
) -> None:
    params = authorize_params(client["client_id"], LOOPBACK, Pkce(), response_type=response_type)
    response = http.get("/authorize", params=params)
    assert_error_redirect(response, auth_server.issuer, LOOPBACK, "unsupported_response_type", params["state"])


def test_error_page_escapes_reflected_values(http: httpx.Client, client: dict[str, str]) -> None:
    params = authorize_params(client["client_id"], 'https://evil.example/"><script>alert(1)</script>', Pkce())
    response = http.get("/authorize", params=params)
    assert_error_page(response)
    assert "<script>" not in response.text

    response = http.get("/authorize", params=authorize_params("<script>alert(1)</script>", LOOPBACK, Pkce()))
    assert_error_page(response)
    assert "<script>" not in response.text


def test_pending_request_is_stored_only_as_a_hash(
    http: httpx.Client, client: dict[str, str], auth_server: RunningServer
) -> None:
    from shared.models import AuthorizationRequest

    response = http.get("/authorize", params=authorize_params(client["client_id"], LOOPBACK, Pkce()))
    request_id = query_of(response.headers["location"])["request"]
    with auth_server.db() as db:
        assert db.get(AuthorizationRequest, request_id) is None
        assert all(request_id not in row.id_hash for row in db.query(AuthorizationRequest))
