"""Refresh tokens: rotation, the grace window, reuse detection, the family's absolute lifetime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from authserver.hashing import secret_hash
from authserver.users import create_user
from shared.db import transaction
from shared.models import AuditEvent, GrantRevocation, RefreshToken, utcnow
from tests.authserver.auth_browser import EMAIL, PASSWORD, authorize_through_browser
from tests.authserver.conftest import RunningServer, settings_of, start_server
from tests.authserver.test_auth_code_flow import race, redeem, refresh, verify
from tests.conftest import Database


def row_of(server: RunningServer, refresh_token: str) -> RefreshToken:
    with server.db() as db:
        return db.scalars(select(RefreshToken).where(RefreshToken.token_hash == secret_hash(refresh_token))).one()


def grant_revocation(server: RunningServer, row: RefreshToken) -> GrantRevocation | None:
    with server.db() as db:
        return db.get(GrantRevocation, (row.user_id, row.client_id))


def audited(server: RunningServer, action: str, client_id: str) -> list[AuditEvent]:
    with server.db() as db:
        query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.client_id == client_id)
        return list(db.scalars(query))


def signed_in(http: httpx.Client) -> tuple[str, dict[str, str]]:
    authorized = authorize_through_browser(http)
    tokens = redeem(http, authorized).json()
    return authorized.client["client_id"], tokens


def test_reuse_within_the_grace_window_returns_the_same_successor(
    http: httpx.Client, auth_server: RunningServer
) -> None:
    client_id, first = signed_in(http)
    second = refresh(http, client_id, first["refresh_token"]).json()

    again = refresh(http, client_id, first["refresh_token"])

    assert again.status_code == 200, again.text
    assert again.headers["cache-control"] == "no-store"
    assert again.json()["refresh_token"] == second["refresh_token"]
    assert again.json()["access_token"] != second["access_token"]
    verify(http, again.json()["access_token"])
    with auth_server.db() as db:  # no fork: the family still has one live token
        family = row_of(auth_server, first["refresh_token"]).family_id
        live = db.scalars(
            select(RefreshToken).where(RefreshToken.family_id == family, RefreshToken.rotated_at.is_(None))
        )
        assert len(list(live)) == 1
    assert refresh(http, client_id, second["refresh_token"]).status_code == 200


def test_reuse_after_the_successor_was_used_revokes_the_whole_grant(
    http: httpx.Client, auth_server: RunningServer
) -> None:
    client_id, first = signed_in(http)
    second = refresh(http, client_id, first["refresh_token"]).json()
    third = refresh(http, client_id, second["refresh_token"]).json()

    replayed = refresh(http, client_id, first["refresh_token"])

    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    assert refresh(http, client_id, third["refresh_token"]).json()["error"] == "invalid_grant"
    assert row_of(auth_server, third["refresh_token"]).revoked_at is not None
    revocation = grant_revocation(auth_server, row_of(auth_server, third["refresh_token"]))
    assert revocation is not None  # the MCP server now refuses the access tokens too
    assert verify(http, third["access_token"]).claims["iat"] < revocation.not_before.timestamp()
    [event] = audited(auth_server, "refresh_token.reuse", client_id)
    assert event.actor_user_id == row_of(auth_server, third["refresh_token"]).user_id
    assert first["refresh_token"] not in str(event.details)


def test_reuse_outside_the_grace_window_revokes_the_family(http: httpx.Client, auth_server: RunningServer) -> None:
    client_id, first = signed_in(http)
    second = refresh(http, client_id, first["refresh_token"]).json()
    grace = auth_server.settings.refresh_token_grace_seconds
    with transaction(auth_server.db) as db:
        db.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == secret_hash(first["refresh_token"]))
            .values(rotated_at=utcnow() - timedelta(seconds=grace + 1))
        )

    replayed = refresh(http, client_id, first["refresh_token"])

    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"
    successor = refresh(http, client_id, second["refresh_token"])
    assert successor.status_code == 400 and successor.json()["error"] == "invalid_grant"
    assert grant_revocation(auth_server, row_of(auth_server, second["refresh_token"])) is not None


def test_the_family_lifetime_caps_sliding_renewals(http: httpx.Client, auth_server: RunningServer) -> None:
    client_id, first = signed_in(http)
    row = row_of(auth_server, first["refresh_token"])
    lifetime = auth_server.settings.refresh_token_family_lifetime
    assert abs((row.family_expires_at - row.created_at).total_seconds() - lifetime) < 5
    soon = utcnow() + timedelta(minutes=10)
    with transaction(auth_server.db) as db:
        db.execute(update(RefreshToken).where(RefreshToken.id == row.id).values(family_expires_at=soon))

    renewed = refresh(http, client_id, first["refresh_token"]).json()

    new_row = row_of(auth_server, renewed["refresh_token"])
    assert new_row.family_expires_at == soon and new_row.expires_at == soon  # not extended by the renewal
    with transaction(auth_server.db) as db:
        db.execute(update(RefreshToken).where(RefreshToken.id == new_row.id).values(family_expires_at=utcnow()))
    expired = refresh(http, client_id, renewed["refresh_token"])
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_a_repeated_answer_may_narrow_but_not_widen_the_successors_scope(http: httpx.Client) -> None:
    authorized = authorize_through_browser(http, scope="snippets:read snippets:write")
    client_id = authorized.client["client_id"]
    first = redeem(http, authorized).json()
    narrowed = refresh(http, client_id, first["refresh_token"], scope="snippets:read").json()

    again = refresh(http, client_id, first["refresh_token"])
    assert again.status_code == 200 and again.json()["scope"] == "snippets:read"
    widened = refresh(http, client_id, first["refresh_token"], scope="snippets:read snippets:write")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"
    assert refresh(http, client_id, narrowed["refresh_token"]).status_code == 200


def test_access_token_lifetime_is_a_setting(tmp_path: Path) -> None:
    server = start_server(tmp_path, access_token_ttl=120)
    try:
        with transaction(server.db) as db:
            create_user(db, EMAIL, PASSWORD, "Alice")
        with httpx.Client(base_url=server.issuer, timeout=10) as http:
            body = redeem(http, authorize_through_browser(http)).json()
            claims = verify(http, body["access_token"]).claims
        assert body["expires_in"] == 120 and claims["exp"] - claims["iat"] == 120
    finally:
        server.stop()


# Postgres: truly concurrent transactions ----------------------------------------------------


@pytest.fixture
def postgres_server(postgres_database: Database) -> Iterator[RunningServer]:
    server = start_server(postgres_database.data_dir, **settings_of(postgres_database))
    with transaction(server.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
    yield server
    server.stop()


def test_concurrent_refreshes_on_postgres_all_get_the_one_successor(postgres_server: RunningServer) -> None:
    with httpx.Client(base_url=postgres_server.issuer, timeout=30) as http:
        client_id, tokens = signed_in(http)
        data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": client_id}

        results = race(http, data, attempts=8)

        assert [r.status_code for r in results] == [200] * 8, [r.text for r in results]
        successors = {r.json()["refresh_token"] for r in results}
        assert len(successors) == 1
        with postgres_server.db() as db:
            family = db.scalars(
                select(RefreshToken).where(
                    RefreshToken.family_id == row_of(postgres_server, tokens["refresh_token"]).family_id
                )
            ).all()
        assert len(family) == 2 and sum(row.rotated_at is None for row in family) == 1
        assert refresh(http, client_id, successors.pop()).status_code == 200


def test_concurrent_code_redemptions_on_postgres_give_one_token_and_revoke_it(
    postgres_server: RunningServer,
) -> None:
    with httpx.Client(base_url=postgres_server.issuer, timeout=30) as http:
        authorized = authorize_through_browser(http)

        results = race(http, authorized.token_request(), attempts=8)

        winners = [r for r in results if r.status_code == 200]
        assert len(winners) == 1, [r.text for r in results]
        assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code != 200)
        issued = winners[0].json()
        # What the winner got is revoked: its refresh token at once, its access token at the MCP server.
        assert refresh(http, authorized.client["client_id"], issued["refresh_token"]).json()["error"] == "invalid_grant"
        row = row_of(postgres_server, issued["refresh_token"])
        assert row.revoked_at is not None
        revocation = grant_revocation(postgres_server, row)
        assert revocation is not None
        assert verify(http, issued["access_token"]).claims["iat"] < revocation.not_before.timestamp()


def test_a_replayed_code_also_revokes_the_access_token(http: httpx.Client, auth_server: RunningServer) -> None:
    authorized = authorize_through_browser(http)
    issued = redeem(http, authorized).json()
    time.sleep(0.01)

    assert redeem(http, authorized).json()["error"] == "invalid_grant"

    revocation = grant_revocation(auth_server, row_of(auth_server, issued["refresh_token"]))
    assert revocation is not None
    assert verify(http, issued["access_token"]).claims["iat"] < revocation.not_before.timestamp()
    [event] = audited(auth_server, "code.replay", authorized.client["client_id"])
    assert event.details == {} and event.target is None  # never the code
