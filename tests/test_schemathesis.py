"""Schemathesis against the live authorization server: hostile input never gives a 500, and
every answer is one ``/openapi.json`` documents (status, content type, body, headers).

The server is real uvicorn on a loopback port over SQLite, the way the authserver tests run
it. Random input alone never gets past client authentication, so every other schema-valid
case is given real credentials first: a fresh registration and its access token for the
RFC 7592 endpoint, a confidential client's HTTP Basic credentials and live tokens for
/token, /revoke and /introspect. Examples are bounded so the run takes well under a minute.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authserver.openapi import openapi_document
from authserver.users import create_user
from shared.db import transaction
from shared.settings import Settings
from tests.authserver.auth_browser import EMAIL, PASSWORD, authorize_through_browser, register
from tests.authserver.conftest import RunningServer, start_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]
REDIRECT = "http://127.0.0.1:51234/callback"

# Loaded at import (pytest parametrizes at collection); the calls go to the live server, and
# test_the_server_serves_this_document checks it serves this very document.
schema = schemathesis.openapi.from_dict(openapi_document(Settings()))
schema.config.generation.update(modes=list(GenerationMode), with_security_parameters=True)


@dataclass
class Credentials:
    """A confidential client with live tokens, for cases that should get past authentication."""

    issuer: str
    client_id: str
    client_secret: str
    tokens: dict[str, str]
    turn: Iterator[bool]

    def registration(self) -> dict[str, Any]:
        with httpx.Client(base_url=self.issuer) as http:
            return register(http, [REDIRECT])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(Path(tmp_path_factory.mktemp("schemathesis")))
    with transaction(running.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def credentials(live_server: RunningServer) -> Credentials:
    with httpx.Client(base_url=live_server.issuer) as http:
        client = register(http, [REDIRECT], token_endpoint_auth_method="client_secret_basic")
        authorized = authorize_through_browser(http, client=client, redirect_uri=REDIRECT, scope="offline_access")
        response = http.post(
            "/token",
            data=authorized.token_request(client_id=None),
            auth=(client["client_id"], client["client_secret"]),
        )
        assert response.status_code == 200, response.text
        tokens = response.json()
    return Credentials(
        live_server.issuer,
        client["client_id"],
        client["client_secret"],
        {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"]},
        itertools.cycle([True, False]),
    )


def authenticate(case: schemathesis.Case, credentials: Credentials) -> None:
    """Give a schema-valid case real credentials (and real tokens where it names one)."""
    if case.path == "/register/{client_id}":
        registered = credentials.registration()
        case.path_parameters = {"client_id": registered["client_id"]}
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {registered['registration_access_token']}"}
        if case.method == "PUT" and isinstance(case.body, dict):  # a valid update, whatever else it says
            case.body.update(client_id=registered["client_id"], redirect_uris=[REDIRECT])
            case.body.update(token_endpoint_auth_method="none")
        return
    if case.path not in ("/token", "/revoke", "/introspect"):
        return
    basic = httpx.BasicAuth(credentials.client_id, credentials.client_secret)
    case.headers = {**(case.headers or {}), "Authorization": basic._auth_header}
    if isinstance(case.body, dict):
        if "token" in case.body:
            case.body["token"] = credentials.tokens[case.body.get("token_type_hint") or "access_token"]
        if case.body.get("grant_type") == "refresh_token":
            case.body["refresh_token"] = credentials.tokens["refresh_token"]


def test_the_server_serves_this_document(live_server: RunningServer) -> None:
    served = httpx.get(f"{live_server.issuer}/openapi.json").json()
    assert served == openapi_document(live_server.settings)


@schema.parametrize()
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_documented_answer_and_no_server_error(
    case: schemathesis.Case, live_server: RunningServer, credentials: Credentials
) -> None:
    positive = case.meta is None or case.meta.generation.mode == GenerationMode.POSITIVE
    if positive and next(credentials.turn):
        authenticate(case, credentials)
    case.call_and_validate(base_url=live_server.issuer, checks=CHECKS, timeout=10)


@given(path=st.sampled_from(["/token", "/revoke", "/introspect"]), userpass=st.binary(min_size=1, max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_basic_credentials_are_an_oauth_error(live_server: RunningServer, path: str, userpass: bytes) -> None:
    """Schemathesis sends only printable credentials; bytes that are not UTF-8 once gave a 500."""
    header = "Basic " + base64.b64encode(userpass).decode()
    response = httpx.post(
        live_server.issuer + path, headers={"Authorization": header}, data={"grant_type": "refresh_token", "token": "x"}
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
