"""Revocations written by the authorization server stop access tokens before they expire.

The signals are rows the authorization server writes (here written directly, as it
would): ``users.disabled_at``, ``users.tokens_valid_after``, ``grant_revocations``. The
MCP server trusts what it read for ``revocation_check_seconds`` (1 s here), so each
refusal is expected within that time, as a 401 ``invalid_token`` challenge.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, update

from shared.db import make_engine
from shared.models import GrantRevocation, User
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, mcp_harness

TTL = 1.0
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Protocol-Version": "2025-11-25",
}


@pytest.fixture
def harness(database: Database) -> Iterator[McpHarness]:
    with mcp_harness(database, revocation_check_seconds=TTL) as running:
        yield running


def admin(harness: McpHarness, statement: Any) -> None:
    engine = make_engine(harness.settings.admin_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def status(harness: McpHarness, token: str) -> httpx.Response:
    return httpx.post(harness.resource, json=LIST_TOOLS, headers={**HEADERS, "Authorization": f"Bearer {token}"})


def refused_within(harness: McpHarness, token: str, seconds: float = TTL + 1) -> httpx.Response:
    """Poll until the token is refused; fail if it takes longer than ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        response = status(harness, token)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def assert_invalid_token(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge
    assert reason in challenge


def test_disabling_the_account_stops_its_tokens(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    token = harness.token(ada)
    assert status(harness, token).status_code == 200
    admin(harness, update(User).where(User.id == ada).values(disabled_at=datetime.now(UTC)))
    assert_invalid_token(refused_within(harness, token), "the account is disabled")
    assert_invalid_token(status(harness, harness.token(ada)), "the account is disabled")  # new ones too


def test_tokens_issued_before_tokens_valid_after_are_refused(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    old = harness.token(ada, iat=int(time.time()) - 10)
    assert status(harness, old).status_code == 200
    admin(
        harness, update(User).where(User.id == ada).values(tokens_valid_after=datetime.now(UTC) - timedelta(seconds=5))
    )
    assert_invalid_token(refused_within(harness, old), "revoked")
    assert status(harness, harness.token(ada)).status_code == 200  # signing in again helps at once


def test_a_revoked_grant_stops_that_clients_tokens_only(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    revoked = harness.token(ada, client_id="laptop", iat=int(time.time()) - 10)
    other = harness.token(ada, client_id="phone", iat=int(time.time()) - 10)
    assert status(harness, revoked).status_code == 200
    not_before = datetime.now(UTC) - timedelta(seconds=5)
    admin(harness, insert(GrantRevocation).values(user_id=ada, client_id="laptop", not_before=not_before))
    assert_invalid_token(refused_within(harness, revoked), "revoked")
    assert status(harness, other).status_code == 200
    assert status(harness, harness.token(ada, client_id="laptop")).status_code == 200  # a new grant
    admin(harness, delete(GrantRevocation))


def test_a_token_issued_in_the_second_of_a_revocation_is_refused(harness: McpHarness) -> None:
    """iat has whole seconds: the same second as the revocation counts as before it (the safe side)."""
    ada = harness.add_user("ada@example.com")
    now = int(time.time())
    admin(harness, update(User).where(User.id == ada).values(tokens_valid_after=datetime.fromtimestamp(now + 0.5, UTC)))
    assert_invalid_token(status(harness, harness.token(ada, iat=now)), "revoked")
    assert status(harness, harness.token(ada, iat=now + 1)).status_code == 200


def test_a_subject_without_an_account_is_refused_with_403(harness: McpHarness) -> None:
    for subject in (uuid.uuid4(), "auth0|someone-elsewhere"):
        response = status(harness, harness.token(subject))
        assert response.status_code == 403, response.text
        assert "no account on this server" in response.json()["error_description"]
        assert "www-authenticate" not in response.headers  # signing in again would not help


def test_a_deleted_account_stops_its_tokens(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    token = harness.token(ada)
    assert status(harness, token).status_code == 200
    admin(harness, delete(User).where(User.id == ada))
    assert refused_within(harness, token).status_code == 403
