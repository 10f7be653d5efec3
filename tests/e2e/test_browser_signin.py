"""Sign-in in a real headless Chromium, started by the official MCP client, ending on a loopback listener."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Browser

from tests.chromium import launch_chromium
from tests.conftest import Database
from tests.e2e.browser_signin import BrowserSignIn, browser_http_client
from tests.loopback import LoopbackListener
from tests.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("browser")
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(data_dir)}, data_dir)
    with running_stack(database) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with launch_chromium() as chromium:
        yield chromium


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_browser_sign_in_then_tool_calls_succeed(stack: Stack, browser: Browser, mode: str) -> None:
    context = await browser.new_context()
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener)
        async with browser_http_client(stack, sign_in) as http:
            async with Client(streamable_http_client(stack.resource, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
                created = await client.call_tool("create_workspace", {"name": f"Browser {mode}"})
                assert not created.is_error, created.content
                listed = await client.call_tool("list_workspaces", {})
                assert listed.structured_content is not None
                assert created.structured_content in listed.structured_content["workspaces"]
        redirect = await listener.wait()
        assert redirect["iss"] == stack.issuer
        assert "code" in redirect
    await context.close()
