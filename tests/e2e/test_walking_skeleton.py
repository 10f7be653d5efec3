"""The whole path, end to end: a real MCP client discovers, registers, signs in and calls tools."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import Database
from tests.stack import SignIn, Stack, oauth_http_client, running_stack


@pytest.fixture
def stack(database: Database) -> Iterator[Stack]:
    with running_stack(database) as running:
        yield running


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_mcp_client_signs_in_and_creates_then_lists_a_workspace(stack: Stack, mode: str) -> None:
    sign_in = SignIn(stack)
    async with oauth_http_client(stack, sign_in) as http:
        async with Client(streamable_http_client(stack.resource, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            created = await client.call_tool("create_workspace", {"name": "Prompt Engineering"})
            assert not created.is_error, created.content
            assert created.structured_content is not None
            workspace = created.structured_content
            assert workspace["name"] == "Prompt Engineering"
            assert workspace["role"] == "owner"

            listed = await client.call_tool("list_workspaces", {})
            assert not listed.is_error, listed.content
            assert listed.structured_content == {"workspaces": [workspace]}

    # The client went through the real authorization server, which bound the token to us.
    assert len(sign_in.authorize_urls) == 1
    assert "code_challenge_method=S256" in sign_in.authorize_urls[0]
    assert sign_in.redirect is not None and sign_in.redirect["iss"] == stack.issuer


def test_unauthenticated_call_is_challenged_with_metadata_and_scope(stack: Stack) -> None:
    response = httpx.post(stack.resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    metadata_url = stack.resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert f'resource_metadata="{metadata_url}"' in challenge
    assert 'scope="snippets:read snippets:write workspaces:write"' in challenge

    for url in (metadata_url, stack.resource.replace("/mcp", "/.well-known/oauth-protected-resource")):
        document = httpx.get(url).json()
        assert document["resource"] == stack.resource
        assert document["authorization_servers"] == [stack.issuer]
