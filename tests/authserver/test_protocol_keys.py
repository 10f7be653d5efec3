"""Key rotation: next → active → retiring → retired, what the JWKS publishes, and which key signs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from authserver.keys import PUBLISH_MARGIN, KeyStateError, keys_older_than, list_keys, retire, rotate
from authserver.users import create_user
from shared.db import transaction
from shared.models import SigningKey, utcnow
from tests.authserver.auth_browser import EMAIL, PASSWORD, authorize_through_browser
from tests.authserver.conftest import RunningServer, start_server
from tests.authserver.test_auth_code_flow import redeem, verify


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(tmp_path)
    with transaction(running.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
    yield running
    running.stop()


def states(server: RunningServer) -> dict[str, str]:
    with server.db() as db:
        return {key.kid: key.state for key in list_keys(db, server.settings)}


def published(http: httpx.Client) -> list[str]:
    return [key["kid"] for key in http.get("/jwks").json()["keys"]]


def _header_kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(server: RunningServer) -> None:
    with httpx.Client(base_url=server.issuer, timeout=10) as http:
        before = redeem(http, authorize_through_browser(http)).json()["access_token"]
        (old,) = states(server)

        with transaction(server.db) as db:  # as `authserver keys rotate` does, from another process
            new = rotate(db, server.settings)

        after = redeem(http, authorize_through_browser(http)).json()["access_token"]
        assert _header_kid(before) == old and _header_kid(after) == new.kid != old
        current = states(server)
        assert current[old] == "retiring" and current[new.kid] == "active"
        (next_kid,) = [kid for kid, state in current.items() if state == "next"]
        assert set(published(http)) == {old, new.kid, next_kid}
        response = http.get("/jwks")
        assert response.headers["cache-control"].startswith("public, max-age=")
        verify(http, before)  # tokens of the retiring key still verify
        verify(http, after)


def test_a_second_rotation_promotes_the_published_next_key(server: RunningServer) -> None:
    with transaction(server.db) as db:
        rotate(db, server.settings)
    (next_kid,) = [kid for kid, state in states(server).items() if state == "next"]
    with transaction(server.db) as db:
        assert rotate(db, server.settings).kid == next_kid
    assert sorted(states(server).values()) == ["active", "next", "retiring", "retiring"]


def test_a_retiring_key_leaves_the_jwks_once_its_tokens_expired(server: RunningServer) -> None:
    (old,) = states(server)
    with transaction(server.db) as db:
        rotate(db, server.settings)
    window = timedelta(seconds=server.settings.access_token_ttl) + PUBLISH_MARGIN
    with httpx.Client(base_url=server.issuer) as http:
        with transaction(server.db) as db:
            db.execute(
                update(SigningKey)
                .where(SigningKey.kid == old)
                .values(retired_at=utcnow() - window + timedelta(minutes=1))
            )
        assert old in published(http)
        with transaction(server.db) as db:
            db.execute(update(SigningKey).where(SigningKey.kid == old).values(retired_at=utcnow() - window))
        assert old not in published(http)
    assert states(server)[old] == "retired"


def test_retire_refuses_the_active_key_and_needs_force_while_tokens_may_live(server: RunningServer) -> None:
    (old,) = states(server)
    with transaction(server.db) as db:
        with pytest.raises(KeyStateError, match="active"):
            retire(db, old, settings=server.settings)
        rotate(db, server.settings)
    with transaction(server.db) as db:
        with pytest.raises(KeyStateError, match="still be valid"):
            retire(db, old, settings=server.settings)
        with pytest.raises(KeyStateError, match="no signing key"):
            retire(db, "nope", settings=server.settings)
        retire(db, old, force=True, settings=server.settings)
    assert states(server)[old] == "retired"
    with httpx.Client(base_url=server.issuer) as http:
        assert old not in published(http)


def test_keys_older_than_looks_at_the_active_key(server: RunningServer) -> None:
    with transaction(server.db) as db:
        assert not keys_older_than(db, 1)
        db.execute(update(SigningKey).values(activated_at=utcnow() - timedelta(days=31)))
    with transaction(server.db) as db:
        assert keys_older_than(db, 30) and not keys_older_than(db, 32)
