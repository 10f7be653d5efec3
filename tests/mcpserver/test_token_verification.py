"""The MCP server accepts only RFC 9068 access tokens for itself, from its issuer.

A stand-in issuer publishes RFC 8414 metadata and a JWKS, as any authorization server
would; the MCP server runs under real uvicorn against a real SQLite database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.conftest import Database
from tests.issuer import StandInIssuer
from tests.mcpserver.harness import mcp_harness

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class Setup:
    issuer: StandInIssuer
    resource: str
    user_id: str

    def token(self, *, header: dict[str, Any] | None = None, key: Any = None, **claims: Any) -> str:
        return self.issuer.token(self.resource, self.user_id, header=header, key=key, **claims)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path_factory.mktemp("mcp"))})
    with mcp_harness(database, jwks_refetch_cooldown=1) as harness:
        user = harness.add_user("ada@example.com", "Ada")
        yield Setup(harness.issuer, harness.resource, str(user))


def call(setup: Setup, token: str | None, body: Any = INITIALIZE, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.post(setup.resource, json=body, headers={**HEADERS, **auth, **headers}, timeout=10)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_token_is_accepted(setup: Setup) -> None:
    response = call(setup, setup.token())
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "shared-skills"


def test_trailing_slash_on_the_endpoint_is_served(setup: Setup) -> None:
    response = httpx.post(
        setup.resource + "/", json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer {setup.token()}"}
    )
    assert response.status_code == 200, response.text


def _assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge and 'scope="' in challenge
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("expired", lambda s: s.token(exp=int(time.time()) - 120, iat=int(time.time()) - 600)),
        ("not yet valid", lambda s: s.token(nbf=int(time.time()) + 600)),
        ("wrong audience", lambda s: s.token(aud="http://127.0.0.1:1/other")),
        ("wrong issuer", lambda s: s.token(iss=s.issuer.url + "/")),
        ("missing typ", lambda s: s.token(header={"typ": None})),
        ("typ JWT", lambda s: s.token(header={"typ": "JWT"})),
        ("jku header", lambda s: s.token(header={"jku": "http://127.0.0.1:1/jwks"})),
        ("jwk header", lambda s: s.token(header={"jwk": s.issuer.key.as_dict(private=False)})),
        ("x5u header", lambda s: s.token(header={"x5u": "http://127.0.0.1:1/cert"})),
        ("unknown kid", lambda s: s.token(header={"kid": "nobody"})),
        ("foreign key", lambda s: s.token(key=RSAKey.generate_key(2048, parameters={"kid": "key-1"}))),
        ("ES256 foreign key", lambda s: s.token(header={"alg": "ES256"}, key=ECKey.generate_key("P-256"))),
        (
            "alg none",
            lambda s: _b64({"alg": "none", "typ": "at+jwt", "kid": "key-1"}) + "." + s.token().split(".")[1] + ".",
        ),
        ("not a jwt", lambda s: "abc.def"),
    ],
)
def test_bad_tokens_are_refused_with_invalid_token(setup: Setup, case: str, make: Any) -> None:
    make_token = make(setup) if case != "missing typ" else _without_typ(setup)
    _assert_invalid_token(call(setup, make_token))


def _without_typ(setup: Setup) -> str:
    now = int(time.time())
    claims = {
        "iss": setup.issuer.url,
        "sub": setup.user_id,
        "aud": setup.resource,
        "client_id": "c",
        "scope": "snippets:read",
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "RS256", "kid": setup.issuer.key.kid}, claims, setup.issuer.key)


def test_hmac_signed_with_the_public_key_is_refused(setup: Setup) -> None:
    """The classic key-confusion forgery: HS256 keyed with the issuer's public PEM."""
    public_pem = setup.issuer.key.as_pem(private=False)
    now = int(time.time())
    claims = {
        "iss": setup.issuer.url,
        "sub": setup.user_id,
        "aud": setup.resource,
        "client_id": "c",
        "scope": "snippets:read",
        "iat": now,
        "exp": now + 60,
    }
    signing_input = _b64({"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}) + "." + _b64(claims)
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    _assert_invalid_token(call(setup, token))


def test_missing_token_gets_a_challenge_without_error_code(setup: Setup) -> None:
    response = call(setup, None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert "error=" not in challenge
    assert (
        f'resource_metadata="{setup.resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")}"'
        in challenge
    )


def test_token_in_query_string_is_not_accepted(setup: Setup) -> None:
    response = httpx.post(f"{setup.resource}?access_token={setup.token()}", json=INITIALIZE, headers=HEADERS)
    assert response.status_code == 401


def test_missing_scope_is_403_naming_every_scope_the_call_needs(setup: Setup) -> None:
    token = setup.token(scope="snippets:read")
    body = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "create_workspace", "arguments": {"name": "x"}},
    }
    response = call(setup, token, body, **{"Mcp-Protocol-Version": "2025-11-25"})
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert "workspaces:write" in challenge.split('scope="')[1]


def test_unknown_kid_refetches_once_and_picks_up_a_rotated_key(setup: Setup) -> None:
    new_key = RSAKey.generate_key(2048, parameters={"kid": "key-2"})
    setup.issuer.published.append(new_key.as_dict(private=False))
    time.sleep(1.1)  # let an earlier test's refetch cooldown pass
    before = setup.issuer.jwks_requests
    try:
        token = setup.token(header={"kid": "key-2"}, key=new_key)
        response = call(setup, token)
        assert response.status_code == 200, response.text
        assert setup.issuer.jwks_requests == before + 1
        # A flood of unknown kids does not turn into a flood of JWKS fetches (cooldown).
        for _ in range(5):
            _assert_invalid_token(call(setup, setup.token(header={"kid": "ghost"})))
        assert setup.issuer.jwks_requests <= before + 2
    finally:
        setup.issuer.published.pop()


def test_host_header_outside_the_allow_list_is_refused(setup: Setup) -> None:
    response = call(setup, setup.token(), **{"Host": "evil.example"})
    assert response.status_code == 421


def test_foreign_origin_is_refused(setup: Setup) -> None:
    response = call(setup, setup.token(), **{"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_the_inbound_token_is_never_forwarded(setup: Setup) -> None:
    """The only requests the MCP server makes (issuer metadata, JWKS) never carry the caller's token."""
    time.sleep(1.1)  # past the refetch cooldown, so the unknown kid below makes the server fetch again
    before = len(setup.issuer.seen_headers)
    token = setup.token(header={"kid": "unknown-to-force-a-fetch"})
    _assert_invalid_token(call(setup, token))
    good = setup.token()
    assert call(setup, good).status_code == 200
    fetched = setup.issuer.seen_headers[before:]
    assert fetched, "the unknown kid should have made the server refetch the JWKS"
    for headers in setup.issuer.seen_headers:
        assert "authorization" not in headers
        assert not any(token in value or good in value for value in headers.values())
