"""Dynamic client registration (RFC 7591) and its redirect-URI policy."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from shared.models import OAuthClient
from tests.authserver.auth_browser import register
from tests.authserver.conftest import RunningServer

GOOD_REDIRECT_URIS = [
    "http://127.0.0.1:33418/",
    "http://localhost:8765/callback",
    "http://[::1]:4000/cb",
    "http://127.0.0.1/callback",
    "https://vscode.dev/redirect",
    "https://claude.ai/api/mcp/auth_callback?x=1",
]

BAD_REDIRECT_URIS = {
    "javascript": "javascript:alert(document.cookie)",
    "javascript-slashes": "javascript://example.com/%0Aalert(1)",
    "data": "data:text/html,<script>alert(1)</script>",
    "file": "file:///etc/passwd",
    "fragment": "https://app.example/cb#frag",
    "empty-fragment": "http://127.0.0.1:3000/cb#",
    "userinfo": "https://user:pass@app.example/cb",
    "userinfo-loopback-lookalike": "http://127.0.0.1:80@evil.example/cb",
    "http-non-loopback": "http://evil.example/cb",
    "loopback-lookalike-host": "http://localhost.evil.example/cb",
    "custom-scheme": "myapp://callback",
    "relative": "/callback",
    "no-host": "https:///cb",
    "space": "https://app.example/c b",
    "bad-port": "http://127.0.0.1:99999/cb",
}


def test_public_client_with_loopback_and_https_redirects_is_registered(
    http: httpx.Client, auth_server: RunningServer
) -> None:
    response = http.post(
        "/register",
        json={
            "redirect_uris": GOOD_REDIRECT_URIS,
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "Claude Code",
            "client_id": "chosen-by-client",
            "client_secret": "chosen-by-client",
            "client_id_issued_at": 1,
        },
    )

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"] and body["client_id"] != "chosen-by-client"
    assert body["client_id_issued_at"] > 1
    assert "client_secret" not in body and "client_secret_expires_at" not in body
    assert body["redirect_uris"] == GOOD_REDIRECT_URIS
    assert body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["client_name"] == "Claude Code"
    with auth_server.db() as db:
        row = db.get(OAuthClient, body["client_id"])
        assert row is not None and row.client_secret_hash is None and row.source == "dcr"


def test_defaults_are_a_public_code_client(http: httpx.Client) -> None:
    response = http.post("/register", json={"redirect_uris": ["http://127.0.0.1:9/cb"]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token_endpoint_auth_method"] == "none"
    assert body["grant_types"] == ["authorization_code"]
    assert body["response_types"] == ["code"]


@pytest.mark.parametrize("uri", BAD_REDIRECT_URIS.values(), ids=BAD_REDIRECT_URIS.keys())
def test_unsafe_redirect_uri_is_refused(http: httpx.Client, uri: str) -> None:
    response = http.post("/register", json={"redirect_uris": ["http://127.0.0.1:3000/ok", uri]})

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_redirect_uri"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "metadata",
    [
        {"redirect_uris": []},
        {"redirect_uris": "http://127.0.0.1:3000/cb"},
        {},
    ],
    ids=["empty", "not-a-list", "missing"],
)
def test_redirect_uris_are_required(http: httpx.Client, metadata: dict[str, object]) -> None:
    response = http.post("/register", json=metadata)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "metadata",
    [
        {"grant_types": ["authorization_code", "implicit"]},
        {"grant_types": ["password"]},
        {"grant_types": ["client_credentials"]},
        {"response_types": ["token"]},
        {"response_types": ["code", "id_token"]},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"scope": "snippets:read admin"},
        {"client_name": "x" * 500},
    ],
    ids=["implicit", "password", "client-credentials", "token-response", "hybrid", "auth-method", "scope", "long-name"],
)
def test_unsupported_metadata_is_refused(http: httpx.Client, metadata: dict[str, object]) -> None:
    response = http.post("/register", json={"redirect_uris": ["http://127.0.0.1:3000/cb"], **metadata})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_client_metadata"


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b'"string"'])
def test_a_body_that_is_not_a_json_object_is_refused(http: httpx.Client, body: bytes) -> None:
    response = http.post("/register", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


def test_oversized_registration_is_refused(http: httpx.Client) -> None:
    response = http.post("/register", json={"redirect_uris": ["http://127.0.0.1:3000/cb"], "pad": "x" * 200_000})
    assert response.status_code == 413


def test_confidential_client_gets_a_secret_stored_only_as_hash(http: httpx.Client, auth_server: RunningServer) -> None:
    body = register(http, ["https://app.example/cb"], token_endpoint_auth_method="client_secret_basic")

    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    with auth_server.db() as db:
        row = db.scalars(select(OAuthClient).where(OAuthClient.client_id == body["client_id"])).one()
    assert row.client_secret_hash and body["client_secret"] not in row.client_secret_hash
    assert body["client_secret"] not in str(row.client_metadata)
