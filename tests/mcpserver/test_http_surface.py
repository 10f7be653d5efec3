"""The HTTP surface: protocol eras, resource metadata, challenges, CORS, health, and bad input.

Everything here goes over real HTTP to a real server (SQLite is enough: nothing here
depends on the database beyond its being there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.settings import SCOPES
from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, mcp_harness, text_of
from tests.processes import free_port

INSPECTOR = "http://localhost:6274"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LEGACY = {**HEADERS, "Mcp-Protocol-Version": "2025-11-25"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpHarness]:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path_factory.mktemp("surface"))})
    with mcp_harness(database, mcp_allowed_origins=[INSPECTOR, "http://127.0.0.1:*"]) as running:
        yield running


def rpc(method: str, params: dict[str, Any] | None = None, id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}


def post(server: McpHarness, body: Any, token: str | None = None, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.resource, content=content, headers={**LEGACY, **auth, **headers}, timeout=10)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_both_protocol_eras_run_the_tools(server: McpHarness, mode: str) -> None:
    user = server.add_user(f"{mode}@example.com")
    async with server.client(user, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert tools == {
            "list_workspaces",
            "create_workspace",
            "invite_to_workspace",
            "list_members",
            "remove_member",
            "set_member_role",
            "leave_workspace",
            "list_snippets",
            "get_snippet",
            "save_snippet",
            "share_snippet",
            "delete_snippet",
            "list_snippet_versions",
            "diff_snippet_versions",
            "restore_snippet_version",
            "search_snippets",
            "render_snippet",
            "add_skill_file",
            "remove_skill_file",
        }
        ws = (await call(client, "create_workspace", name=mode))["id"]
        saved = await call(client, "save_snippet", workspace_id=ws, title="Hi", body="hello")
        assert (await call(client, "get_snippet", id=saved["id"]))["body"] == "hello"
        listed = await client.call_tool("list_snippets", {"workspace_id": ws})
        assert "Hi" in text_of(listed)  # a readable text block next to the structured content


async def test_every_tool_has_a_description_schemas_and_annotations(server: McpHarness) -> None:
    user = server.add_user("schemas@example.com")
    async with server.client(user) as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        assert tool.description and len(tool.description) > 30, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is not None, tool.name
        if not tool.annotations.read_only_hint:
            assert tool.annotations.destructive_hint is not None, tool.name
    by_name = {t.name: t for t in tools}
    assert by_name["delete_snippet"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert by_name["list_snippets"].annotations.read_only_hint is True  # type: ignore[union-attr]


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"])
def test_protected_resource_metadata(server: McpHarness, path: str) -> None:
    origin = server.resource.removesuffix("/mcp")
    response = httpx.get(origin + path, headers={"Origin": "https://claude.ai"})
    assert response.status_code == 200
    document = response.json()
    assert document["resource"] == server.resource
    assert document["authorization_servers"] == [server.issuer.url]
    assert document["scopes_supported"] == ["snippets:read", "snippets:write", "workspaces:write"]
    assert document["bearer_methods_supported"] == ["header"]
    assert httpx.get(document["resource_documentation"]).status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_missing_token_challenge_names_metadata_and_every_scope(server: McpHarness) -> None:
    response = post(server, rpc("tools/list"))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert f'resource_metadata="{server.settings.resource_metadata_url}"' in challenge
    assert f'scope="{" ".join(SCOPES)}"' in challenge
    assert "offline_access" not in challenge


@pytest.mark.parametrize(
    ("granted", "message", "needed"),
    [
        ("snippets:read", rpc("tools/call", {"name": "save_snippet", "arguments": {}}), {"snippets:write"}),
        ("snippets:write", rpc("tools/call", {"name": "get_snippet", "arguments": {}}), {"snippets:read"}),
        ("snippets:read", rpc("tools/call", {"name": "invite_to_workspace", "arguments": {}}), {"workspaces:write"}),
        ("workspaces:write", rpc("resources/read", {"uri": "snippet://x"}), {"snippets:read"}),
        (
            "snippets:read",
            [
                rpc("tools/call", {"name": "save_snippet", "arguments": {}}, 1),
                rpc("tools/call", {"name": "leave_workspace", "arguments": {}}, 2),
            ],
            {"snippets:write", "workspaces:write"},
        ),
    ],
)
def test_insufficient_scope_is_403_naming_every_scope_the_call_needs(
    server: McpHarness, granted: str, message: Any, needed: set[str]
) -> None:
    user = server.add_user(f"scope-{free_port()}@example.com")
    response = post(server, message, server.token(user, scope=granted))
    assert response.status_code == 403
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert set(challenge.split('scope="')[1].split('"')[0].split()) == needed | {granted}


def test_browser_clients_get_cors_on_the_challenge_and_preflight(server: McpHarness) -> None:
    preflight = httpx.options(
        server.resource,
        headers={
            "Origin": INSPECTOR,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == INSPECTOR
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

    challenge = post(server, rpc("tools/list"), Origin=INSPECTOR)
    assert challenge.status_code == 401
    assert challenge.headers["access-control-allow-origin"] == INSPECTOR
    assert "www-authenticate" in challenge.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in challenge.headers["access-control-expose-headers"].lower()

    # A wildcard-port entry of the allow-list.
    assert post(server, rpc("tools/list"), Origin="http://127.0.0.1:5173").headers["access-control-allow-origin"]


def test_foreign_origins_and_hosts_are_refused_before_authentication(server: McpHarness) -> None:
    foreign = post(server, rpc("tools/list"), Origin="https://evil.example")
    assert foreign.status_code == 403
    assert "www-authenticate" not in foreign.headers and "access-control-allow-origin" not in foreign.headers
    preflight = httpx.options(
        server.resource, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 403
    assert post(server, rpc("tools/list"), Host="evil.example").status_code == 421


def test_bad_input_gets_protocol_errors_never_a_500(server: McpHarness) -> None:
    user = server.add_user("bad-input@example.com")
    token = server.token(user)
    init = rpc(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    assert post(server, init, token).status_code == 200
    for body in (
        b"{not json",
        b"[]",
        b'"a string"',
        json.dumps(rpc("tools/call", {"name": "no_such_tool"})).encode(),
        json.dumps(rpc("tools/call", {"name": "get_snippet", "arguments": "not an object"})).encode(),
        json.dumps(rpc("resources/read", {"uri": 42})).encode(),
        json.dumps(rpc("no/such/method")).encode(),
    ):
        response = post(server, body, token)
        assert response.status_code < 500, (body, response.status_code, response.text)
        assert "Traceback" not in response.text
    too_big = post(server, b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}', token)
    assert too_big.status_code == 413


def test_health_and_readiness(server: McpHarness) -> None:
    origin = server.resource.removesuffix("/mcp")
    assert httpx.get(origin + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(origin + "/readyz")
    assert ready.status_code == 200 and ready.json()["problems"] == []


def test_not_ready_without_the_issuers_keys(tmp_path_factory: pytest.TempPathFactory) -> None:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path_factory.mktemp("unready"))})
    nowhere = f"http://127.0.0.1:{free_port()}"
    with mcp_harness(database, issuer_url=nowhere) as running:
        origin = running.resource.removesuffix("/mcp")
        assert httpx.get(origin + "/healthz").status_code == 200
        ready = httpx.get(origin + "/readyz")
        assert ready.status_code == 503
        assert ready.json()["problems"] == ["signing keys not loaded"]
