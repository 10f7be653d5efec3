"""Audit events nobody typed a command for: a remembered consent approving by itself, a client
updating its own registration (RFC 7592), and a signing key retiring once its tokens expired."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from authserver.keys import PUBLISH_MARGIN, rotate
from authserver.users import create_user
from shared.db import transaction
from shared.models import AuditEvent, SigningKey, User, utcnow
from tests.authserver.auth_browser import EMAIL, PASSWORD, Pkce, authorize_params, authorize_through_browser, follow
from tests.authserver.cli_runner import Cli
from tests.authserver.conftest import RunningServer, settings_of, start_server
from tests.conftest import Database


@pytest.fixture
def server(database: Database) -> Iterator[RunningServer]:
    running = start_server(database.data_dir, **settings_of(database))
    with transaction(running.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
    yield running
    running.stop()


def events(server: RunningServer, action: str) -> list[AuditEvent]:
    with server.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_remembered_consent_that_approves_by_itself_is_recorded(server: RunningServer) -> None:
    with httpx.Client(base_url=server.issuer, follow_redirects=False, timeout=10) as http:
        first = authorize_through_browser(http, scope="snippets:read offline_access")
        params = authorize_params(first.client["client_id"], first.redirect_uri, Pkce(), scope="snippets:read")
        remembered = follow(http, http.get("/authorize", params=params))  # no page: straight back to the client
        assert remembered.status_code == 302 and "code=" in remembered.headers["location"], remembered.text
    with server.db() as db:
        alice = db.scalars(select(User.id).where(User.email == EMAIL)).one()
    [granted] = events(server, "consent.grant")
    [reused] = events(server, "consent.reuse")
    assert (reused.actor_user_id, reused.client_id) == (alice, first.client["client_id"])
    assert reused.details == {"resource": first.params["resource"], "scope": "snippets:read"}
    assert granted.details["scope"] == "snippets:read offline_access"


def test_a_client_updating_its_registration_is_recorded_with_the_fields_it_changed(server: RunningServer) -> None:
    with httpx.Client(base_url=server.issuer, timeout=10) as http:
        metadata: dict[str, Any] = {"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}
        registered = http.post("/register", json={**metadata, "client_name": "Before"}).json()
        client_id, uri = registered["client_id"], f"/register/{registered['client_id']}"
        bearer = {"Authorization": f"Bearer {registered['registration_access_token']}"}
        updated = http.put(uri, headers=bearer, json={**metadata, "client_id": client_id, "client_name": "After"})
        assert updated.status_code == 200, updated.text
        # Refused updates change nothing and record nothing.
        refused = http.put(
            uri,
            headers=bearer,
            json={**metadata, "client_id": client_id, "token_endpoint_auth_method": "client_secret_basic"},
        )
        assert refused.status_code == 400
        assert http.put(uri, headers={"Authorization": "Bearer wrong"}, json={}).status_code == 401
        assert http.delete(uri, headers=bearer).status_code == 204
    [event] = events(server, "client.update")
    assert (event.client_id, event.address) == (client_id, "127.0.0.1")
    assert event.details == {"via": "registration_endpoint", "changed": ["client_name"]}
    [deleted] = events(server, "client.delete")
    assert deleted.address == "127.0.0.1"


def test_a_key_retiring_by_itself_is_recorded_once(server: RunningServer, database: Database) -> None:
    window = timedelta(seconds=server.settings.access_token_ttl) + PUBLISH_MARGIN
    with server.db() as db:
        [first] = db.scalars(select(SigningKey.kid)).all()
    with transaction(server.db) as db:
        second = rotate(db, server.settings).kid
    with transaction(server.db) as db:  # the first key's last token expired a moment ago
        db.execute(update(SigningKey).where(SigningKey.kid == first).values(retired_at=utcnow() - window))
    with httpx.Client(base_url=server.issuer, timeout=10) as http:
        for _ in range(2):  # the first request notices and records; the second finds nothing to do
            assert first not in [key["kid"] for key in http.get("/jwks").json()["keys"]]
    [expired] = events(server, "key.expire")
    assert expired.target == first and expired.details["via"] == "automatic" and expired.actor_user_id is None
    with server.db() as db:
        assert db.get(SigningKey, first).state == "retired"  # type: ignore[union-attr]

    # A rotation retires what has expired as well, and says so.
    with transaction(server.db) as db:
        rotate(db, server.settings)
        db.execute(update(SigningKey).where(SigningKey.kid == second).values(retired_at=utcnow() - window))
        rotate(db, server.settings)
    assert [e.target for e in events(server, "key.expire")] == [first, second]
    # The operator reads them with the rest of the trail.
    listed = Cli(database.env).json("audit", "--action", "key.expire")
    assert sorted(e["target"] for e in listed) == sorted([first, second])
