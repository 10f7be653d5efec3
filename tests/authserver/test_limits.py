"""The authorization server's limits from the settings, on SQLite and Postgres: request bodies
(413), registration bodies (413, ``invalid_client_metadata``) and redirect URIs per client
(400, ``invalid_redirect_uri``), for registrations and RFC 7592 updates alike, and nothing
is written when one is refused. The OpenAPI document states the configured count. Hostile
registration bodies (Hypothesis) get a registration or an OAuth error, and store nothing then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.db import transaction
from shared.models import OAuthClient
from tests.authserver.conftest import RunningServer, settings_of, start_server
from tests.conftest import Database

LIMITS: dict[str, Any] = {
    "auth_max_request_bytes": 8 * 1024,
    "registration_max_bytes": 2 * 1024,
    "registration_max_redirect_uris": 2,
}


def uris(count: int) -> list[str]:
    return [f"http://127.0.0.1:{50000 + n}/callback" for n in range(count)]


@pytest.fixture
def server(database: Database) -> Iterator[RunningServer]:
    running = start_server(database.data_dir, **settings_of(database), **LIMITS)
    yield running
    running.stop()


def clients(server: RunningServer) -> list[dict[str, Any]]:
    with transaction(server.db) as db:
        return [dict(row.client_metadata) for row in db.scalars(select(OAuthClient))]


def count_clients(server: RunningServer) -> int:
    with transaction(server.db) as db:
        return db.scalar(select(func.count()).select_from(OAuthClient)) or 0


def test_registration_limits_are_refused_with_oauth_errors_and_nothing_stored(server: RunningServer) -> None:
    before = count_clients(server)
    with httpx.Client(base_url=server.issuer, timeout=10) as http:
        too_many = http.post("/register", json={"redirect_uris": uris(3)})
        assert too_many.status_code == 400
        assert too_many.json() == {
            "error": "invalid_redirect_uri",
            "error_description": "At most 2 redirect URIs may be registered.",
        }
        too_large = http.post("/register", json={"redirect_uris": uris(1), "client_name": "x", "pad": "p" * 2100})
        assert too_large.status_code == 413
        assert too_large.json()["error"] == "invalid_client_metadata"
        assert "larger than 2048 bytes" in too_large.json()["error_description"]
        assert too_large.headers["cache-control"] == "no-store"
        assert count_clients(server) == before

        at_limit = http.post("/register", json={"redirect_uris": uris(2)})
        assert at_limit.status_code == 201, at_limit.text
        client = at_limit.json()
        configuration = {"Authorization": f"Bearer {client['registration_access_token']}"}
        update = {"client_id": client["client_id"], "redirect_uris": uris(3)}
        refused = http.put(f"/register/{client['client_id']}", json=update, headers=configuration)
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_redirect_uri")
        update = {"client_id": client["client_id"], "redirect_uris": uris(1), "pad": "p" * 2100}
        refused = http.put(f"/register/{client['client_id']}", json=update, headers=configuration)
        assert (refused.status_code, refused.json()["error"]) == (413, "invalid_client_metadata")
    assert [c["redirect_uris"] for c in clients(server) if c["redirect_uris"] == uris(2)] == [uris(2)]
    assert count_clients(server) == before + 1


def test_request_bodies_over_the_server_limit_are_413(server: RunningServer) -> None:
    with httpx.Client(base_url=server.issuer, timeout=10) as http:
        form = {"grant_type": "refresh_token", "refresh_token": "r" * (9 * 1024), "client_id": "x"}
        assert http.post("/token", data=form).status_code == 413
        assert http.post("/revoke", data={"token": "t" * (9 * 1024)}).status_code == 413
        assert http.post("/introspect", data={"token": "t" * (9 * 1024)}).status_code == 413
        # Under the limit, the same request gets its ordinary OAuth answer.
        small = http.post("/token", data={**form, "refresh_token": "r" * 100})
        assert small.status_code in (400, 401) and "error" in small.json()


def test_the_openapi_document_states_the_configured_redirect_uri_count(server: RunningServer) -> None:
    document = httpx.get(f"{server.issuer}/openapi.json", timeout=10).json()
    schemas = document["components"]["schemas"]
    found = [
        schema["properties"]["redirect_uris"].get("maxItems")
        for schema in schemas.values()
        if "redirect_uris" in schema.get("properties", {})
    ]
    assert found and set(found) == {2}


# Hostile registrations --------------------------------------------------------------------

HOSTILE_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["", " ", "\x00", "\u202e", "\ud800", "\U0001f600", "a" * 201, "x" * 3000, "http://127.0.0.1:1/cb"]
    ),
)
HOSTILE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), HOSTILE_TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=6,
)
FIELDS = [
    "redirect_uris",
    "token_endpoint_auth_method",
    "grant_types",
    "response_types",
    "scope",
    "client_name",
    "client_uri",
    "logo_uri",
    "software_id",
    "software_version",
    "contacts",
    "client_id",
    "client_secret",
]
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "redirect_uris": st.lists(
        st.one_of(
            st.sampled_from(uris(3)), st.sampled_from(["claude://cb", "https://e.example/cb\u202e"]), HOSTILE_TEXT
        ),
        max_size=3,
    ),
    "token_endpoint_auth_method": st.sampled_from(["none", "client_secret_basic", "private_key_jwt"]),
    "grant_types": st.lists(st.sampled_from(["authorization_code", "refresh_token", "implicit"]), max_size=3),
    "scope": st.sampled_from(["snippets:read", "snippets:read offline_access", "admin", ""]),
}


def metadata() -> st.SearchStrategy[dict[str, Any]]:
    value = {name: st.one_of(PLAUSIBLE.get(name, HOSTILE_TEXT), HOSTILE) for name in FIELDS}
    required = value.pop("redirect_uris")
    return st.fixed_dictionaries({"redirect_uris": required}, optional=value)


def test_hostile_registrations_get_oauth_errors_and_store_nothing(server: RunningServer) -> None:
    @hypothesis_settings(max_examples=40, deadline=None, derandomize=True, database=None)
    @given(body=metadata())
    def register(body: dict[str, Any]) -> None:
        before = count_clients(server)
        response = httpx.post(
            f"{server.issuer}/register",
            content=json.dumps(body, ensure_ascii=True),  # lone surrogates travel escaped
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code in (201, 400, 413), (response.status_code, response.text[:300])
        assert "Traceback" not in response.text
        if response.status_code == 413 and response.headers["content-type"].startswith("text/plain"):
            assert count_clients(server) == before  # over the server-wide limit: refused before it is read
            return
        answer = response.json()
        if response.status_code == 201:
            assert count_clients(server) == before + 1
            assert len(answer["redirect_uris"]) <= 2
        else:
            assert answer["error"] in ("invalid_client_metadata", "invalid_redirect_uri"), answer
            assert count_clients(server) == before

    register()
