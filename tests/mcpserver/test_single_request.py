"""The single-request path (``mcpserver.single_request``) answers exactly as the SDK's transport.

Two real servers on one database, one with the path (the default) and one without
(``SKILLS_MCP_SINGLE_REQUEST_PATH=false``), get the same raw HTTP requests with the same
token: every answer must be identical (status, content type, body). The SDK logs (DEBUG) when
it builds a transport for a stateless request, which shows which requests took which path.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, mcp_harness

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Protocol-Version": "2025-11-25",
}
SDK_TRANSPORT_LOG = "Stateless mode: Creating new transport for this request"


@pytest.fixture
def servers(database: Database) -> Iterator[tuple[McpHarness, McpHarness]]:
    with mcp_harness(database) as lean, mcp_harness(database, mcp_single_request_path=False) as sdk:
        yield lean, sdk


def rpc(method: str, params: dict[str, Any] | None = None, id: int | str = 1, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method, **extra}
    if params is not None:
        message["params"] = params
    return message


def post(url: str, token: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {**HEADERS, "Authorization": f"Bearer {token}", **headers}
    return httpx.post(url, content=content, headers=sent, timeout=30)


def answer(response: httpx.Response) -> tuple[int, str, Any]:
    body: Any = response.text
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        body = response.json()
    return response.status_code, response.headers.get("content-type", ""), body


def sdk_transports(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == SDK_TRANSPORT_LOG)


def test_single_requests_get_the_sdk_transports_answers(
    servers: tuple[McpHarness, McpHarness], caplog: pytest.LogCaptureFixture
) -> None:
    lean, sdk = servers
    owner = lean.add_user("owner@example.com", "Owner")
    token = lean.token(owner)  # the same issuer signs for both: one token, same audience path
    sdk_token = sdk.token(owner)
    created = post(lean.resource, token, rpc("tools/call", {"name": "create_workspace", "arguments": {"name": "T"}}))
    workspace = created.json()["result"]["structuredContent"]["id"]
    saved = post(
        lean.resource,
        token,
        rpc(
            "tools/call",
            {
                "name": "save_snippet",
                "arguments": {"workspace_id": workspace, "title": "Greet", "body": "Hello {{name}}"},
            },
        ),
    )
    snippet = saved.json()["result"]["structuredContent"]["id"]

    requests: list[Any] = [
        rpc("ping"),
        rpc("tools/list"),
        rpc("tools/list", {}, id="a string id"),
        rpc("tools/call", {"name": "list_workspaces", "arguments": {}}),
        rpc("tools/call", {"name": "list_snippets", "arguments": {"workspace_id": workspace}}, id=7),
        rpc("tools/call", {"name": "get_snippet", "arguments": {"id": snippet}}),
        rpc("tools/call", {"name": "render_snippet", "arguments": {"id": snippet, "values": {"name": "Ada"}}}),
        rpc("tools/call", {"name": "get_snippet", "arguments": {"id": "not-a-uuid"}}),
        rpc("tools/call", {"name": "get_snippet", "arguments": {"id": 12}}),
        rpc("tools/call", {"name": "no_such_tool", "arguments": {}}),
        rpc("tools/call", {"arguments": {}}),
        rpc("tools/call"),
        rpc("no/such/method"),
        rpc("prompts/list"),
        rpc("resources/list"),
        rpc("resources/templates/list"),
        rpc("resources/read", {"uri": "snippet://nowhere"}),
        rpc("prompts/get", {"name": "no-such-prompt"}),
        rpc("tools/list", {"cursor": "not a cursor"}),
        rpc("tools/call", {"name": "list_workspaces", "arguments": {}, "_meta": {"progressToken": 5}}),
        rpc("tools/list", {}, unknown_member=True),
        # Left to the SDK by the path, and still the same:
        rpc(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        ),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        [rpc("ping"), rpc("tools/list", id=2)],
        {"jsonrpc": "2.0", "id": None, "method": "ping"},
        {"jsonrpc": "1.0", "id": 1, "method": "ping"},
        b"{not json",
        b'{"jsonrpc": "2.0", "id": 1, "method": "ping\\ud800"}',
        b"[]",
        b"42",
    ]
    caplog.set_level(logging.DEBUG, logger="mcp.server.streamable_http_manager")
    for request in requests:
        assert answer(post(lean.resource, token, request)) == answer(post(sdk.resource, sdk_token, request)), request

    for headers in (
        {"Accept": "text/event-stream"},
        {"Accept": "*/*"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json; charset=utf-8"},
        {"Mcp-Protocol-Version": "2025-06-18"},
        {"Mcp-Protocol-Version": "1999-01-01"},
    ):
        request = rpc("tools/list")
        lean_answer = answer(post(lean.resource, token, request, **headers))
        assert lean_answer == answer(post(sdk.resource, sdk_token, request, **headers)), headers

    # Which path served what: the SDK built a transport for every stateless POST to the server
    # without the path, and on the lean server only for the requests the path leaves to it.
    caplog.clear()
    for _ in range(3):
        post(lean.resource, token, rpc("tools/call", {"name": "list_workspaces", "arguments": {}}))
    assert sdk_transports(caplog) == 0
    post(lean.resource, token, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    post(
        lean.resource,
        token,
        rpc(
            "initialize",
            {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        ),
    )
    assert sdk_transports(caplog) == 2
    caplog.clear()
    post(sdk.resource, sdk_token, rpc("tools/call", {"name": "list_workspaces", "arguments": {}}))
    assert sdk_transports(caplog) == 1


async def test_the_official_client_works_through_the_path(servers: tuple[McpHarness, McpHarness]) -> None:
    lean, _ = servers
    user = lean.add_user("client@example.com")
    for mode in ("legacy", "2026-07-28"):
        async with lean.client(user, mode=mode) as client:
            assert "list_snippets" in {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("list_workspaces", {})
            assert not result.is_error
