"""Metadata (RFC 8414), dynamic registration (RFC 7591) and client configuration (RFC 7592)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from authserver import hashing
from authserver.clients import get_client, list_clients, prune_unused
from shared.db import transaction
from shared.models import OAuthClient, RefreshToken, utcnow
from tests.authserver.auth_browser import Pkce, authorize_params, authorize_through_browser, register
from tests.authserver.conftest import RunningServer, start_server
from tests.authserver.test_auth_code_flow import redeem, refresh

LOOPBACK = "http://127.0.0.1:51234/callback"


# Metadata ----------------------------------------------------------------------------------


def test_metadata_lists_every_endpoint_and_capability(http: httpx.Client, auth_server: RunningServer) -> None:
    meta = http.get("/.well-known/oauth-authorization-server").json()
    issuer = auth_server.issuer

    assert meta["revocation_endpoint"] == f"{issuer}/revoke"
    assert meta["introspection_endpoint"] == f"{issuer}/introspect"
    assert meta["scopes_supported"] == ["snippets:read", "snippets:write", "workspaces:write", "offline_access"]
    assert meta["revocation_endpoint_auth_methods_supported"] == ["none", "client_secret_basic", "client_secret_post"]
    assert meta["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert meta["client_id_metadata_document_supported"] is True
    assert "none" in meta["token_endpoint_auth_methods_supported"]  # clients use CIMD only then
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert http.get("/.well-known/openid-configuration").json() == meta


# Redirect URI policy -----------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["claude://callback", "cursor://anysphere.cursor-retrieval/oauth/cb", "vscode://x/cb"])
def test_operator_listed_native_schemes_may_be_registered(http: httpx.Client, uri: str) -> None:
    assert register(http, [uri])["redirect_uris"] == [uri]


@pytest.mark.parametrize(
    "uri",
    ["myapp://callback", "claude://callback#frag", "claude://user@callback", "javascript://x/%0Aalert(1)"],
    ids=["unlisted", "fragment", "userinfo", "javascript"],
)
def test_other_schemes_stay_refused(http: httpx.Client, uri: str) -> None:
    response = http.post("/register", json={"redirect_uris": [uri]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_redirect_uri"


def test_listing_a_dangerous_scheme_does_not_allow_it(tmp_path: Path) -> None:
    server = start_server(tmp_path, native_redirect_schemes=["javascript", "data", "file", "claude"])
    try:
        with httpx.Client(base_url=server.issuer) as http:
            for uri in ("javascript://x/%0Aalert(1)", "data:text/html,x", "file:///etc/passwd"):
                assert http.post("/register", json={"redirect_uris": [uri]}).status_code == 400, uri
            assert http.post("/register", json={"redirect_uris": ["claude://callback"]}).status_code == 201
    finally:
        server.stop()


def test_native_redirect_matches_exactly(http: httpx.Client, auth_server: RunningServer) -> None:
    client = register(http, ["claude://callback"])
    for uri, status in (("claude://callback", 303), ("claude://callback/x", 400), ("claude://other", 400)):
        params = authorize_params(client["client_id"], uri, Pkce())
        assert http.get("/authorize", params=params).status_code == status, uri


# Registration: secrets, limits, expiry ------------------------------------------------------


def test_public_client_gets_no_secret_and_a_hashed_registration_token(
    http: httpx.Client, auth_server: RunningServer
) -> None:
    body = register(http, [LOOPBACK])
    assert "client_secret" not in body
    assert body["registration_client_uri"] == f"{auth_server.issuer}/register/{body['client_id']}"
    with auth_server.db() as db:
        row = db.get(OAuthClient, body["client_id"])
        assert row is not None and row.client_secret_hash is None
        assert row.registration_token_hash == hashing.secret_hash(body["registration_access_token"])


def test_client_secrets_are_compared_in_constant_time(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client = register(http, ["https://app.example/cb"], token_endpoint_auth_method="client_secret_post")
    calls: list[tuple[str, str]] = []
    real = hashing.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hashing.hmac, "compare_digest", spy)
    data = {"grant_type": "authorization_code", "code": "x", "client_id": client["client_id"], "client_secret": "no"}
    assert http.post("/token", data=data).json()["error"] == "invalid_client"
    assert (hashing.secret_hash("no"), hashing.secret_hash(client["client_secret"])) in calls


def test_registration_bodies_are_capped(http: httpx.Client) -> None:
    response = http.post("/register", json={"redirect_uris": [LOOPBACK], "pad": "x" * 20_000})
    assert response.status_code == 413
    assert response.json()["error"] == "invalid_client_metadata"


def test_registration_is_rate_limited_per_address_across_processes(tmp_path: Path) -> None:
    first = start_server(tmp_path, registration_rate_limit=3, registration_rate_window=600)
    # A second process on the same database: the count is shared.
    second = start_server(tmp_path, registration_rate_limit=3, registration_rate_window=600)
    try:
        body = {"redirect_uris": [LOOPBACK]}
        statuses = [httpx.post(f"{server.issuer}/register", json=body).status_code for server in (first, second, first)]
        assert statuses == [201, 201, 201]
        refused = httpx.post(f"{second.issuer}/register", json=body)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 600
        assert refused.headers["cache-control"] == "no-store"
    finally:
        first.stop()
        second.stop()


def test_unused_registrations_expire_on_lookup_and_in_bulk(http: httpx.Client, auth_server: RunningServer) -> None:
    ttl = auth_server.settings.unused_client_ttl
    stale, pruned, used = (register(http, [LOOPBACK])["client_id"] for _ in range(3))
    redeem(http, authorize_through_browser(http, client=register(http, [LOOPBACK])))  # keeps a client busy
    authorize_through_browser(http, client={"client_id": used})
    old = utcnow() - timedelta(seconds=ttl + 60)
    with transaction(auth_server.db) as db:
        db.execute(update(OAuthClient).where(OAuthClient.client_id.in_([stale, pruned, used])).values(created_at=old))

    page = http.get("/authorize", params=authorize_params(stale, LOOPBACK, Pkce()))
    assert page.status_code == 400 and "location" not in page.headers  # unknown now
    with transaction(auth_server.db) as db:
        assert get_client(db, stale) is None
        assert prune_unused(db, timedelta(seconds=ttl)) >= 1
        assert get_client(db, pruned) is None
        assert get_client(db, used) is not None  # it obtained a code: never pruned
        assert all(summary.client_id != pruned for summary in list_clients(db))


# Client configuration (RFC 7592) ------------------------------------------------------------


def configuration(http: httpx.Client, client: dict[str, Any], method: str, token: str | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    token = token if token is not None else client["registration_access_token"]
    return http.request(method, client["registration_client_uri"], headers={"Authorization": f"Bearer {token}"}, **kw)


def test_configuration_endpoint_reads_the_registration(http: httpx.Client) -> None:
    client = register(http, [LOOPBACK], client_name="Reader")
    response = configuration(http, client, "GET")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["client_id"] == client["client_id"] and body["client_name"] == "Reader"
    assert body["registration_access_token"] == client["registration_access_token"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_configuration_endpoint_needs_the_registration_token(http: httpx.Client, method: str) -> None:
    client = register(http, [LOOPBACK])
    other = register(http, [LOOPBACK])
    for token in ("wrong", other["registration_access_token"], "x" * 300):
        response = configuration(http, client, method, token=token, json={"client_id": client["client_id"]})
        assert response.status_code == 401, (method, token)
        assert response.json()["error"] == "invalid_token"
    unknown = http.get(f"{client['registration_client_uri']}x", headers={"Authorization": "Bearer wrong"})
    assert unknown.status_code == 401


def test_configuration_endpoint_updates_with_the_same_policy(http: httpx.Client) -> None:
    client = register(http, [LOOPBACK])
    update_body = {"client_id": client["client_id"], "redirect_uris": ["https://app.example/cb"], "client_name": "New"}

    assert configuration(http, client, "PUT", json={**update_body, "client_id": "other"}).status_code == 400
    evil = configuration(http, client, "PUT", json={**update_body, "redirect_uris": ["http://evil.example/cb"]})
    assert evil.status_code == 400 and evil.json()["error"] == "invalid_redirect_uri"
    switch = configuration(
        http, client, "PUT", json={**update_body, "token_endpoint_auth_method": "client_secret_post"}
    )
    assert switch.status_code == 400 and "client_secret" not in switch.text.replace("client_secret_post", "")
    updated = configuration(http, client, "PUT", json=update_body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["redirect_uris"] == ["https://app.example/cb"] and updated.json()["client_name"] == "New"
    assert configuration(http, client, "GET").json()["client_name"] == "New"


def test_confidential_update_must_match_its_secret(http: httpx.Client) -> None:
    client = register(http, ["https://app.example/cb"], token_endpoint_auth_method="client_secret_basic")
    body = {
        "client_id": client["client_id"],
        "redirect_uris": ["https://app.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    }
    assert configuration(http, client, "PUT", json={**body, "client_secret": "wrong"}).status_code == 400
    assert (
        configuration(http, client, "PUT", json={**body, "client_secret": client["client_secret"]}).status_code == 200
    )


def test_deleting_a_registration_revokes_what_it_holds(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    client = authorized.client

    assert configuration(http, client, "DELETE").status_code == 204

    assert configuration(http, client, "GET").status_code == 401
    assert refresh(http, client["client_id"], tokens["refresh_token"]).status_code in (400, 401)
    with auth_server.db() as db:
        assert db.get(OAuthClient, client["client_id"]) is None
        assert db.query(RefreshToken).filter(RefreshToken.client_id == client["client_id"]).count() == 0
        from shared.models import GrantRevocation

        assert db.query(GrantRevocation).filter(GrantRevocation.client_id == client["client_id"]).count() == 1


def test_concurrent_registrations_all_succeed(http: httpx.Client) -> None:
    results: list[int] = []

    def go() -> None:
        with httpx.Client(base_url=http.base_url) as own:
            results.append(own.post("/register", json={"redirect_uris": [LOOPBACK]}).status_code)

    threads = [threading.Thread(target=go) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [201] * 5
