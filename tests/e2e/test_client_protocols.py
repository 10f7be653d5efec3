"""The official client against the real servers in the ways clients differ: protocol revision,
registration (DCR or a client ID metadata document), audience, and refreshing an expired token.

Every sign-in goes through Chromium and a loopback listener, as in ``test_sign_in_pages``.
The stack issues one-minute access tokens and
serves a second MCP server (another resource) from the same authorization server.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from playwright.async_api import BrowserContext

from tests.e2e.browser_signin import BrowserSignIn, signed_in_client
from tests.e2e.stacks import sqlite_database
from tests.e2e.tls_documents import DocumentServer, document_server, make_ca
from tests.loopback import LoopbackListener
from tests.processes import free_port, server_process
from tests.stack import MemoryTokenStorage, Stack, running_stack

ACCESS_TOKEN_TTL = 60


@dataclass
class Servers:
    stack: Stack
    other_resource: str  # a second MCP server of the same authorization server
    documents: DocumentServer


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    certificates = tmp_path_factory.mktemp("tls")
    ca, ca_file = make_ca(certificates)
    other_port = free_port()
    other_resource = f"http://127.0.0.1:{other_port}/mcp"
    database = sqlite_database(
        tmp_path_factory,
        "protocols",
        access_token_ttl=str(ACCESS_TOKEN_TTL),
        extra_resource_urls=json.dumps([other_resource]),
        cimd_allow_loopback="true",
        cimd_ca_file=str(ca_file),
    )
    with document_server(ca, certificates) as documents, running_stack(database) as stack:
        other_env = {**stack.env, "SKILLS_RESOURCE_URL": other_resource, "SKILLS_MCP_PORT": str(other_port)}
        health = f"http://127.0.0.1:{other_port}/healthz"
        with server_process(["mcpserver", "serve"], other_env, health, database.data_dir / "other-mcpserver.log"):
            yield Servers(stack, other_resource, documents)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")])
async def test_client_speaking_each_protocol_revision_signs_in_and_calls_tools(
    servers: Servers, context: BrowserContext, mode: str, version: str
) -> None:
    stack = servers.stack
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, sign_in, mode=mode) as client:
            created = await client.call_tool("create_workspace", {"name": f"Speaking {version}"})
            assert not created.is_error, created.content
            listed = await client.call_tool("list_workspaces", {})
            assert listed.structured_content is not None
            assert created.structured_content in listed.structured_content["workspaces"]
            assert client.protocol_version == version
    assert len(sign_in.authorize_urls) == 1


async def test_client_registered_by_dynamic_client_registration(servers: Servers, context: BrowserContext) -> None:
    stack = servers.stack
    seen: list[httpx2.Response] = []
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, sign_in, client_name="Cursor", seen=seen) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
    (registration,) = [r for r in seen if str(r.request.url) == f"{stack.issuer}/register"]
    assert registration.status_code == 201
    client_id = registration.json()["client_id"]
    assert _query(sign_in.authorize_urls[0])["client_id"] == client_id
    assert not client_id.startswith("https://")


async def test_client_identified_by_a_metadata_document_on_a_loopback_https_server(
    servers: Servers, context: BrowserContext
) -> None:
    stack, documents = servers.stack, servers.documents
    url = documents.origin + "/clients/claude-code.json"
    documents.publish(
        "/clients/claude-code.json",
        {
            "client_id": url,
            "client_name": "Claude Code (metadata document)",
            "redirect_uris": ["http://localhost/callback"],  # port-less: the listener's random port matches
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    seen: list[httpx2.Response] = []
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, sign_in, client_metadata_url=url, seen=seen) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error

    metadata = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server").json()
    assert metadata["client_id_metadata_document_supported"] is True
    assert _query(sign_in.authorize_urls[0])["client_id"] == url
    assert not [r for r in seen if r.request.url.path == "/register"]  # no registration at all
    assert documents.fetches["/clients/claude-code.json"] >= 1  # the authorization server fetched it
    (consent,) = sign_in.consent_pages
    assert consent.startswith("Allow access? Claude Code (metadata document) wants to act for")


async def test_token_for_another_resource_is_refused(servers: Servers, context: BrowserContext) -> None:
    stack = servers.stack
    storage = MemoryTokenStorage()
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, sign_in, storage=storage, server_url=servers.other_resource) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error  # good where it belongs
    assert storage.tokens is not None
    token = storage.tokens.access_token
    assert _claims(token)["aud"] == servers.other_resource

    response = httpx.post(
        stack.resource,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error_description"] == "token issued for another resource"


async def test_expired_access_token_is_refreshed_without_a_new_sign_in(
    servers: Servers, context: BrowserContext
) -> None:
    stack = servers.stack
    storage = MemoryTokenStorage()
    seen: list[httpx2.Response] = []
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, sign_in, storage=storage, seen=seen) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
            assert storage.tokens is not None and storage.tokens.expires_in == ACCESS_TOKEN_TTL
            first = storage.tokens
            expires = _claims(first.access_token)["exp"]

            await asyncio.sleep(max(0.0, expires - time.time()) + 1)
            seen.clear()
            listed = await client.call_tool("list_workspaces", {})
            assert not listed.is_error, listed.content

    assert len(sign_in.authorize_urls) == 1  # no second trip to the browser
    (refresh,) = [r for r in seen if str(r.request.url) == f"{stack.issuer}/token"]
    assert refresh.status_code == 200
    assert parse_qs(refresh.request.content.decode())["grant_type"] == ["refresh_token"]
    assert storage.tokens.access_token != first.access_token
    assert storage.tokens.refresh_token not in (None, first.refresh_token)  # rotated
    assert time.time() > expires


def _query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking the signature (the servers check it; the test only looks)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
