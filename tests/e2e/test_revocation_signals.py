"""Operator actions at the authorization server stop a client's access at the MCP server within
seconds, not at token expiry: both servers run as real processes sharing one database."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import Database
from tests.processes import run_cli
from tests.stack import MemoryTokenStorage, SignIn, Stack, oauth_http_client, running_stack

CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_workspaces", "arguments": {}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-11-25"}


@pytest.fixture
def stack(database: Database) -> Iterator[Stack]:
    with running_stack(database) as running:
        yield running


async def _signed_in_token(stack: Stack) -> str:
    storage = MemoryTokenStorage()
    async with oauth_http_client(stack, SignIn(stack), storage) as http:
        async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
            assert not (await client.call_tool("list_workspaces", {})).is_error
    assert storage.tokens is not None
    return storage.tokens.access_token


def _status(stack: Stack, token: str) -> int:
    response = httpx.post(stack.resource, json=CALL, headers={**HEADERS, "Authorization": f"Bearer {token}"})
    return response.status_code


def _refused_within(stack: Stack, token: str, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if _status(stack, token) == 401:
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"the token still worked {seconds} s after the revocation")


@pytest.mark.parametrize(
    ("command", "stdin"),
    [
        (["users", "disable", "{email}"], None),
        (["users", "set-password", "{email}", "--password-stdin"], "a brand new passphrase\n"),
        (["tokens", "revoke", "--user", "{email}"], None),
    ],
    ids=["disable", "set-password", "tokens-revoke"],
)
async def test_operator_revocation_stops_access_tokens_at_the_mcp_server_promptly(
    stack: Stack, command: list[str], stdin: str | None
) -> None:
    token = await _signed_in_token(stack)
    assert _status(stack, token) == 200
    result = run_cli(["authserver", *(part.format(email=stack.email) for part in command)], stack.env, stdin=stdin)
    assert result.returncode == 0, result.stderr
    # The MCP server caches a user's revocation state for SKILLS_REVOCATION_CHECK_SECONDS (5 s by default).
    _refused_within(stack, token, seconds=15)
