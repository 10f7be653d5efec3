"""X-Forwarded-* count only from the proxies in SKILLS_FORWARDED_ALLOW_IPS; published URLs never come from headers.

Login throttling counts failures per client address (``authserver/throttle.py``): with no
trusted proxy a forged ``X-Forwarded-For`` must not give an attacker a fresh address per
attempt; behind a trusted proxy each real client must get its own count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.browser import forms_of
from tests.e2e.stacks import sqlite_database
from tests.stack import Stack, running_stack

PER_ADDRESS = 2
FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example", "Forwarded": "host=evil.example"}


def _stack(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str) -> Iterator[Stack]:
    database = sqlite_database(
        tmp_path_factory,
        name,
        login_failures_per_address=str(PER_ADDRESS),
        login_failures_per_account="100",
        **settings,
    )
    with running_stack(database) as running:
        yield running


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """No proxy trusted (the default)."""
    yield from _stack(tmp_path_factory, "direct")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Behind a proxy on 127.0.0.1 (where the tests connect from)."""
    yield from _stack(tmp_path_factory, "proxied", forwarded_allow_ips=json.dumps(["127.0.0.1"]))


def failed_login(stack: Stack, number: int, forwarded_for: str) -> int:
    """One failed sign-in (a different email each time) sent with ``X-Forwarded-For``; the status."""
    with httpx.Client(base_url=stack.issuer) as browser:
        page = browser.get("/login")
        (form,) = forms_of(page.text)
        answer = browser.post(
            "/login",
            data={**form.fields, "email": f"guess{number}@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": forwarded_for},
        )
        return answer.status_code


def test_without_a_trusted_proxy_x_forwarded_for_does_not_change_the_throttled_address(direct: Stack) -> None:
    statuses = [failed_login(direct, n, f"203.0.113.{n}") for n in range(PER_ADDRESS + 1)]
    assert statuses == [400] * PER_ADDRESS + [429]  # every attempt counted against the real peer


def test_behind_a_trusted_proxy_each_forwarded_client_is_throttled_on_its_own(proxied: Stack) -> None:
    assert [failed_login(proxied, n, f"198.51.100.{n}") for n in range(PER_ADDRESS + 1)] == [400] * 3
    repeated = [failed_login(proxied, 10 + n, "198.51.100.200") for n in range(PER_ADDRESS + 1)]
    assert repeated == [400] * PER_ADDRESS + [429]
    assert failed_login(proxied, 20, "198.51.100.201") == 400  # others are not locked out with it


@pytest.mark.parametrize("which", ["direct", "proxied"])
def test_published_urls_come_from_settings_not_from_forwarded_headers(
    which: str, request: pytest.FixtureRequest
) -> None:
    stack: Stack = request.getfixturevalue(which)
    metadata = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", headers=FORGED).json()
    assert metadata["issuer"] == stack.issuer
    assert metadata["authorization_endpoint"] == f"{stack.issuer}/authorize"
    resource_metadata_url = stack.resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    document = httpx.get(resource_metadata_url, headers=FORGED).json()
    assert (document["resource"], document["authorization_servers"]) == (stack.resource, [stack.issuer])
    challenge = httpx.post(stack.resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=FORGED)
    assert challenge.status_code == 401
    assert f'resource_metadata="{resource_metadata_url}"' in challenge.headers["www-authenticate"]
