"""The MCP server remembers verified access tokens, without ever accepting what a full check would refuse.

Some tests go through the running server (HTTP, the gate); others drive a ``JWTVerifier`` of
their own against the same stand-in issuer, where a cache hit shows as the very same
``AccessToken`` object coming back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from mcpserver.auth import LEEWAY_SECONDS, InvalidToken, JWKSCache, JWTVerifier
from tests.conftest import Database
from tests.issuer import StandInIssuer
from tests.mcpserver.harness import mcp_harness
from tests.mcpserver.test_token_verification import HEADERS, INITIALIZE


@dataclass
class Setup:
    issuer: StandInIssuer
    resource: str
    subject: str
    """The user every token is for (the gate refuses tokens of unknown users)."""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path_factory.mktemp("mcp"))})
    with mcp_harness(database, jwks_refetch_cooldown=1) as harness:
        yield Setup(harness.issuer, harness.resource, str(harness.add_user("ada@example.com", "Ada")))


@asynccontextmanager
async def verifier_for(setup: Setup, **options: Any) -> AsyncIterator[JWTVerifier]:
    """A verifier of the test's own, fetching keys from the stand-in issuer with no refetch cooldown."""
    async with httpx.AsyncClient(timeout=5) as http:
        jwks = JWKSCache(setup.issuer.url, http, refetch_cooldown=0)
        yield JWTVerifier(jwks, issuer=setup.issuer.url, resource=setup.resource, **options)


def token(setup: Setup, *, key: RSAKey | None = None, kid: str | None = None, **claims: Any) -> str:
    """A token from the stand-in issuer, signed by ``key`` (under its kid) or naming ``kid``."""
    kid = kid or (key.kid if key is not None else None)
    return setup.issuer.token(setup.resource, setup.subject, header={"kid": kid} if kid else None, key=key, **claims)


def call(setup: Setup, bearer: str) -> httpx.Response:
    return httpx.post(setup.resource, json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {bearer}"})


def refused_because(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    return str(response.json()["error_description"])


def publish(issuer: StandInIssuer, key: RSAKey) -> None:
    issuer.published.append(key.as_dict(private=False))


def unpublish(issuer: StandInIssuer, key: RSAKey) -> None:
    issuer.published[:] = [jwk for jwk in issuer.published if jwk != key.as_dict(private=False)]


async def test_a_reused_token_is_served_from_the_cache_and_failures_are_not_cached(setup: Setup) -> None:
    async with verifier_for(setup) as verifier:
        good = token(setup)
        first = await verifier.verify(good)
        assert await verifier.verify(good) is first
        with pytest.raises(InvalidToken, match=r"^token issued for another resource$"):
            await verifier.verify(token(setup, aud="http://127.0.0.1:1/other"))
        assert verifier.cached == 1


async def test_a_cached_token_is_refused_once_it_expires_as_without_the_cache(setup: Setup) -> None:
    now = int(time.time())
    short = token(setup, exp=now - LEEWAY_SECONDS + 4)  # past exp + leeway once the clock reads now + 4
    async with verifier_for(setup) as verifier:
        cached = await verifier.verify(short)
        assert await verifier.verify(short) is cached
        assert call(setup, short).status_code == 200
        assert call(setup, short).status_code == 200
        time.sleep(max(0.0, now + 4 - time.time()) + 0.05)
        with pytest.raises(InvalidToken) as refused:
            await verifier.verify(short)
    assert str(refused.value) == "token expired"
    assert refused_because(call(setup, short)) == "token expired"
    async with verifier_for(setup) as uncached:
        with pytest.raises(InvalidToken, match=r"^token expired$"):
            await uncached.verify(short)


async def test_a_cached_token_whose_key_was_removed_is_refused_once_the_keys_are_refetched(
    setup: Setup,
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "removed-later"})
    publish(setup.issuer, key)
    signed = token(setup, key=key)
    try:
        async with verifier_for(setup) as verifier:
            cached = await verifier.verify(signed)
            assert await verifier.verify(signed) is cached
            time.sleep(1.1)  # past the server's refetch cooldown, which earlier tests may have started
            assert call(setup, signed).status_code == 200  # an unknown kid to the server: it refetches
            assert call(setup, signed).status_code == 200
            unpublish(setup.issuer, key)
            # Another request's unknown kid makes the verifier refetch: the key is gone.
            with pytest.raises(InvalidToken, match=r"^token signed with an unknown key$"):
                await verifier.verify(token(setup, kid="nobody"))
            with pytest.raises(InvalidToken, match=r"^token signed with an unknown key$"):
                await verifier.verify(signed)
        time.sleep(1.1)
        refused_because(call(setup, token(setup, kid="nobody")))  # the server refetches too
        assert refused_because(call(setup, signed)) == "token signed with an unknown key"
    finally:
        unpublish(setup.issuer, key)


async def test_a_cached_token_whose_key_was_replaced_under_the_same_kid_is_refused(setup: Setup) -> None:
    old = RSAKey.generate_key(2048, parameters={"kid": "replaced"})
    new = RSAKey.generate_key(2048, parameters={"kid": "replaced"})
    publish(setup.issuer, old)
    signed = token(setup, key=old)
    try:
        async with verifier_for(setup) as verifier:
            cached = await verifier.verify(signed)
            assert await verifier.verify(signed) is cached
            unpublish(setup.issuer, old)
            publish(setup.issuer, new)
            await verifier.jwks.refresh_for_unknown_kid()
            with pytest.raises(InvalidToken, match=r"^bad signature$"):
                await verifier.verify(signed)
            assert await verifier.verify(token(setup, key=new))
    finally:
        unpublish(setup.issuer, old)
        unpublish(setup.issuer, new)


async def test_the_cache_is_bounded_and_evicts_the_oldest(setup: Setup) -> None:
    async with verifier_for(setup, max_cached=3) as verifier:
        tokens = [token(setup) for _ in range(5)]
        first = [await verifier.verify(each) for each in tokens]
        assert verifier.cached == 3
        assert await verifier.verify(tokens[-1]) is first[-1]
        again = await verifier.verify(tokens[0])  # evicted: verified anew (and cached, evicting another)
        assert again is not first[0] and again == first[0]
        assert verifier.cached == 3


def tampered(good: str) -> list[str]:
    """Variants of ``good`` that share a long prefix with it: each changes the signature's bytes."""
    head, body, signature = good.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    return [f"{head}.{body}.{flipped}", good[:-1], good + "AAAA", f"{head}.{body}.", f"{head}.{body}"]


async def test_a_tampered_token_sharing_a_prefix_with_a_cached_one_is_refused(setup: Setup) -> None:
    good = token(setup)
    async with verifier_for(setup) as verifier:
        cached = await verifier.verify(good)
        for forged in tampered(good):
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)
        assert await verifier.verify(good) is cached
        assert verifier.cached == 1
    assert call(setup, good).status_code == 200
    for forged in tampered(good):
        refused_because(call(setup, forged))
    assert call(setup, good).status_code == 200
