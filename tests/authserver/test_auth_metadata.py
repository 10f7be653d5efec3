"""Discovery: RFC 8414 metadata, JWKS, health, and which endpoints answer cross-origin."""

from __future__ import annotations

import httpx

from shared.settings import SCOPES
from tests.authserver.conftest import RunningServer


def test_metadata_names_every_endpoint_under_the_exact_issuer(http: httpx.Client, auth_server: RunningServer) -> None:
    issuer = auth_server.issuer
    response = http.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == issuer and not issuer.endswith("/")
    assert meta["authorization_endpoint"] == f"{issuer}/authorize"
    assert meta["token_endpoint"] == f"{issuer}/token"
    assert meta["registration_endpoint"] == f"{issuer}/register"
    assert meta["jwks_uri"] == f"{issuer}/jwks"
    assert meta["scopes_supported"] == [*SCOPES, "offline_access"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["none", "client_secret_basic", "client_secret_post"]
    assert meta["authorization_response_iss_parameter_supported"] is True


def test_openid_configuration_is_the_same_document(http: httpx.Client) -> None:
    oauth = http.get("/.well-known/oauth-authorization-server").json()
    assert http.get("/.well-known/openid-configuration").json() == oauth


def test_healthz_answers_json(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_cors_is_allowed_on_metadata_register_token_and_jwks(http: httpx.Client) -> None:
    origin = {"Origin": "https://inspector.example"}
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration", "/jwks"):
        assert http.get(path, headers=origin).headers.get("access-control-allow-origin") == "*", path
    for path in ("/register", "/token"):
        preflight = http.options(
            path,
            headers={
                **origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-request-id",
            },
        )
        assert preflight.status_code == 200, path
        assert preflight.headers.get("access-control-allow-origin") == "*", path
        assert "POST" in preflight.headers.get("access-control-allow-methods", ""), path
        answer = http.post(path, headers=origin, data={})
        assert "x-request-id" in answer.headers.get("access-control-expose-headers", "").lower(), path


def test_authorize_and_pages_have_no_cors(http: httpx.Client) -> None:
    origin = {"Origin": "https://evil.example"}
    for path in ("/authorize?client_id=x", "/login?request=x", "/consent?request=x"):
        response = http.get(path, headers=origin)
        assert "access-control-allow-origin" not in response.headers, path
    preflight = http.options("/authorize", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_jwks_publishes_the_active_public_key_with_caching(http: httpx.Client, auth_server: RunningServer) -> None:
    response = http.get("/jwks")

    assert response.status_code == 200
    assert response.headers["cache-control"] == f"public, max-age={auth_server.settings.jwks_cache_seconds}"
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys(), "private parameters must never be published"
