"""Revocation (RFC 7009), introspection (RFC 7662), and confidential clients end to end."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from shared.models import GrantRevocation
from tests.authserver.auth_browser import authorize_through_browser, register
from tests.authserver.conftest import RunningServer
from tests.authserver.test_auth_code_flow import redeem, refresh, verify

APP = "https://app.example/cb"


def basic(client: dict[str, Any]) -> dict[str, str]:
    credentials = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def confidential_tokens(
    http: httpx.Client, method: str = "client_secret_basic"
) -> tuple[dict[str, Any], dict[str, Any]]:
    client = register(http, [APP], token_endpoint_auth_method=method)
    authorized = authorize_through_browser(http, client=client, redirect_uri=APP)
    if method == "client_secret_basic":
        response = http.post("/token", data=authorized.token_request(client_id=None), headers=basic(client))
    else:
        response = http.post("/token", data=authorized.token_request(client_secret=client["client_secret"]))
    assert response.status_code == 200, response.text
    return client, response.json()


def grant_revoked(server: RunningServer, access_token_claims: dict[str, Any]) -> bool:
    import uuid

    with server.db() as db:
        row = db.get(GrantRevocation, (uuid.UUID(access_token_claims["sub"]), access_token_claims["client_id"]))
        return row is not None and access_token_claims["iat"] < row.not_before.timestamp()


# Confidential clients ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_confidential_client_full_flow(http: httpx.Client, method: str) -> None:
    client, tokens = confidential_tokens(http, method)
    assert verify(http, tokens["access_token"]).claims["client_id"] == client["client_id"]

    as_public = refresh(http, client["client_id"], tokens["refresh_token"])
    assert as_public.status_code in (400, 401) and as_public.json()["error"] == "invalid_client"
    wrong = {**client, "client_secret": "wrong"}
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    if method == "client_secret_basic":
        assert http.post("/token", data=data, headers=basic(wrong)).status_code == 401
        renewed = http.post("/token", data=data, headers=basic(client))
    else:
        secret = {"client_id": client["client_id"], "client_secret": "wrong"}
        assert http.post("/token", data={**data, **secret}).json()["error"] == "invalid_client"
        renewed = http.post("/token", data={**data, **secret, "client_secret": client["client_secret"]})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_token"] != tokens["refresh_token"]


def test_a_confidential_client_cannot_use_the_other_secret_method(http: httpx.Client) -> None:
    client = register(http, [APP], token_endpoint_auth_method="client_secret_basic")
    authorized = authorize_through_browser(http, client=client, redirect_uri=APP)
    posted = http.post("/token", data=authorized.token_request(client_secret=client["client_secret"]))
    assert posted.status_code in (400, 401) and posted.json()["error"] == "invalid_client"


# Revocation --------------------------------------------------------------------------------


def test_public_client_revokes_its_refresh_token(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    client_id = authorized.client["client_id"]

    response = http.post(
        "/revoke", data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token", "client_id": client_id}
    )

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert refresh(http, client_id, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert grant_revoked(auth_server, verify(http, tokens["access_token"]).claims)


def test_revoking_an_access_token_records_a_grant_revocation(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    claims = verify(http, tokens["access_token"]).claims
    assert not grant_revoked(auth_server, claims)

    response = http.post("/revoke", data={"token": tokens["access_token"], "client_id": authorized.client["client_id"]})

    assert response.status_code == 200
    assert grant_revoked(auth_server, claims)
    assert refresh(http, authorized.client["client_id"], tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_another_clients_token_is_not_revoked_and_not_revealed(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    other = register(http, [authorized.redirect_uri])

    for token in (tokens["access_token"], tokens["refresh_token"], "not-a-token"):
        response = http.post("/revoke", data={"token": token, "client_id": other["client_id"]})
        assert response.status_code == 200 and response.json() == {}

    assert not grant_revoked(auth_server, verify(http, tokens["access_token"]).claims)
    assert refresh(http, authorized.client["client_id"], tokens["refresh_token"]).status_code == 200


def test_a_forged_access_token_revokes_nothing(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    header, payload, _ = tokens["access_token"].split(".")
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(b'x' * 256).rstrip(b'=').decode()}"

    http.post("/revoke", data={"token": forged, "client_id": authorized.client["client_id"]})

    assert not grant_revoked(auth_server, verify(http, tokens["access_token"]).claims)


def test_a_confidential_client_must_authenticate_to_revoke(http: httpx.Client) -> None:
    client, tokens = confidential_tokens(http)
    # Authlib 1.9.6 accepted this ("none" for a confidential client): refused here.
    as_public = http.post("/revoke", data={"token": tokens["refresh_token"], "client_id": client["client_id"]})
    assert as_public.status_code == 401 and as_public.json()["error"] == "invalid_client"
    assert http.post("/revoke", data={"token": tokens["refresh_token"]}, headers=basic(client)).status_code == 200


def test_revocation_needs_a_token_parameter(http: httpx.Client) -> None:
    client = register(http, ["http://127.0.0.1:51234/callback"])
    response = http.post("/revoke", data={"client_id": client["client_id"]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


# Introspection -----------------------------------------------------------------------------


def introspect(http: httpx.Client, client: dict[str, Any], token: str, **extra: str) -> httpx.Response:
    return http.post("/introspect", data={"token": token, **extra}, headers=basic(client))


def test_confidential_client_introspects_its_access_token(http: httpx.Client, auth_server: RunningServer) -> None:
    client, tokens = confidential_tokens(http)
    claims = verify(http, tokens["access_token"]).claims

    response = introspect(http, client, tokens["access_token"])

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    expected = {k: claims[k] for k in ("scope", "client_id", "sub", "aud", "exp", "iat", "iss", "jti")}
    assert {k: body[k] for k in expected} == expected


def test_introspection_of_refresh_tokens_and_after_revocation(http: httpx.Client) -> None:
    client, tokens = confidential_tokens(http)
    refreshed = introspect(http, client, tokens["refresh_token"], token_type_hint="refresh_token").json()
    assert refreshed["active"] is True and refreshed["client_id"] == client["client_id"]

    http.post("/revoke", data={"token": tokens["access_token"]}, headers=basic(client))

    assert introspect(http, client, tokens["access_token"]).json() == {"active": False}
    assert introspect(http, client, tokens["refresh_token"]).json() == {"active": False}


def test_introspection_tells_nothing_about_other_clients_tokens(http: httpx.Client) -> None:
    client, _ = confidential_tokens(http)
    other = redeem(http, authorize_through_browser(http)).json()
    for token in (other["access_token"], other["refresh_token"], "garbage", "a.b.c"):
        assert introspect(http, client, token).json() == {"active": False}, token


def test_public_clients_cannot_introspect(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    response = http.post(
        "/introspect", data={"token": tokens["access_token"], "client_id": authorized.client["client_id"]}
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_confidential_client_cannot_introspect_without_its_secret(http: httpx.Client) -> None:
    client, tokens = confidential_tokens(http)
    response = http.post("/introspect", data={"token": tokens["access_token"], "client_id": client["client_id"]})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert introspect(http, {**client, "client_secret": "wrong"}, tokens["access_token"]).status_code == 401
