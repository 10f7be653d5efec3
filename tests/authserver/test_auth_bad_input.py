"""Bad input never produces a 500 or a traceback: OAuth errors or error pages instead."""

from __future__ import annotations

import httpx
import pytest

from tests.authserver.auth_browser import Pkce, authorize_params, register
from tests.authserver.conftest import RunningServer

WEIRD = [
    'quote"inside',
    "back\\slash",
    "non-ascii-é-✓",
    "new\nline",
    "nul\x00byte",
    "<script>alert(1)</script>",
    "x" * 5000,
    "%00%ff",
    "",
]
REDIRECT = "http://127.0.0.1:51234/callback"


@pytest.fixture(scope="module")
def client_id(auth_server: RunningServer) -> str:
    with httpx.Client(base_url=auth_server.issuer) as http:
        return str(register(http, [REDIRECT])["client_id"])


def assert_handled(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "name",
    [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "resource",
    ],
)
@pytest.mark.parametrize("value", WEIRD, ids=range(len(WEIRD)))
def test_authorize_survives_odd_values_in_every_parameter(
    http: httpx.Client, client_id: str, name: str, value: str
) -> None:
    params = authorize_params(client_id, REDIRECT, Pkce())
    params[name] = value
    assert_handled(http.get("/authorize", params=params))


def test_authorize_state_comes_back_exactly(http: httpx.Client, client_id: str) -> None:
    state = 'a"b\\c é ✓ <x>'
    params = authorize_params(client_id, REDIRECT, Pkce(), state=state, code_challenge=None)
    response = http.get("/authorize", params=params)
    assert response.status_code == 302
    assert httpx.URL(response.headers["location"]).params["state"] == state


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"grant_type": "password", "username": "a", "password": "b"},
        {"grant_type": "client_credentials"},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "client_id": "nope", "code": "x"},
        {"grant_type": "refresh_token", "client_id": "nope", "refresh_token": "x"},
    ],
    ids=["empty", "password", "client-credentials", "no-client", "unknown-client", "unknown-client-refresh"],
)
def test_token_endpoint_answers_oauth_errors(http: httpx.Client, data: dict[str, str]) -> None:
    response = http.post("/token", data=data)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("unsupported_grant_type", "invalid_client", "invalid_request")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("value", WEIRD, ids=range(len(WEIRD)))
@pytest.mark.parametrize(
    "name", ["grant_type", "code", "client_id", "redirect_uri", "code_verifier", "refresh_token", "resource"]
)
def test_token_endpoint_survives_odd_values(http: httpx.Client, client_id: str, name: str, value: str) -> None:
    data = {
        "grant_type": "authorization_code",
        "code": "c",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": Pkce().verifier,
        "refresh_token": "r",
    }
    data[name] = value
    response = http.post("/token", data=data)
    assert_handled(response)
    assert response.json()["error"]


def test_token_endpoint_wants_a_form(http: httpx.Client, client_id: str) -> None:
    response = http.post("/token", json={"grant_type": "authorization_code", "client_id": client_id})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert (
        http.post(
            "/token", content=b"a=1&" * 500, headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 400
    )


def test_token_endpoint_refuses_invalid_utf8_without_failing(http: httpx.Client) -> None:
    response = http.post(
        "/token",
        content=b"grant_type=authorization_code&code=%ff%fe&client_id=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_handled(response)


def test_login_and_consent_survive_odd_forms(http: httpx.Client) -> None:
    for path in ("/login", "/consent"):
        assert_handled(http.post(path, json={"email": "a"}))
        assert_handled(http.post(path, data={"request": "x", "csrf_token": "y", "decision": "maybe"}))
        assert_handled(http.post(path, data={}))
        assert_handled(http.get(path))
        assert (
            http.post(
                path, content=b"x" * 100_000, headers={"Content-Type": "application/x-www-form-urlencoded"}
            ).status_code
            == 413
        )


def test_wrong_methods_are_refused(http: httpx.Client) -> None:
    assert http.get("/token").status_code == 405
    assert http.get("/register").status_code == 405
    assert http.post("/authorize").status_code == 405
