"""What a person sees in the browser when their assistant connects, in a real headless Chromium.

The official ``mcp`` client starts each flow; its redirect handler hands the authorize URL to
Chromium, which signs in and answers consent; a loopback listener on a random port (as
Claude Code runs) receives ``code``, ``state`` and ``iss``. The pages are captured at a phone's
and a desktop's width (``tests/e2e/screenshots.py``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import httpx2
import pytest
from mcp.client.auth import OAuthFlowError
from playwright.async_api import BrowserContext, Page

from tests.e2e.browser_signin import BrowserSignIn, find_error, signed_in_client
from tests.e2e.screenshots import Screenshots
from tests.e2e.stacks import add_user, eventually, sqlite_database
from tests.loopback import LoopbackListener
from tests.stack import MemoryTokenStorage, Stack, running_stack

FAILURES_PER_ACCOUNT = 3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    database = sqlite_database(
        tmp_path_factory, "pages", login_failures_per_account=str(FAILURES_PER_ACCOUNT), login_throttle_window="900"
    )
    with running_stack(database) as running:
        yield running


async def test_sign_in_in_the_browser_then_tool_calls_succeed(
    stack: Stack, context: BrowserContext, screenshots: Screenshots
) -> None:
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener, screens=screenshots)
        async with signed_in_client(stack, sign_in) as client:
            created = await client.call_tool("create_workspace", {"name": "Browser happy path"})
            assert not created.is_error, created.content
            listed = await client.call_tool("list_workspaces", {})
            assert listed.structured_content is not None
            assert created.structured_content in listed.structured_content["workspaces"]
        redirect = await listener.wait()

    assert len(sign_in.authorize_urls) == 1 and len(sign_in.consent_pages) == 1
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{listener.port}%2Fcallback" in sign_in.authorize_urls[0]
    assert redirect["iss"] == stack.issuer and redirect["code"] and redirect["state"]


async def test_deny_on_the_consent_page_reaches_the_client_as_access_denied(
    stack: Stack, context: BrowserContext
) -> None:
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener, decision="deny")
        with pytest.raises(BaseException) as raised:
            async with signed_in_client(stack, sign_in) as client:
                await client.call_tool("list_workspaces", {})
        redirect = await listener.wait()

    assert (redirect["error"], redirect["iss"]) == ("access_denied", stack.issuer)
    assert "code" not in redirect and redirect["state"]
    error = find_error(raised.value, OAuthFlowError)
    assert error is not None and "access_denied" in str(error), raised.value


async def test_wrong_password_shows_a_readable_message_that_does_not_tell_whether_the_account_exists(
    stack: Stack, context: BrowserContext
) -> None:
    async with LoopbackListener() as listener:
        sign_in = BrowserSignIn(stack, context, listener, wrong_passwords=["correct horse battery stable"])
        async with signed_in_client(stack, sign_in) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
    (refusal,) = sign_in.refusals
    assert refusal.status == 400
    assert refusal.message == "The email or the password is wrong."

    # An address without an account gets the very same answer (in a browser not signed in).
    page = await context.browser.new_page()  # type: ignore[union-attr]
    await page.goto(f"{stack.issuer}/login")
    unknown = await _log_in(page, "nobody-here@example.com", "correct horse battery")
    assert (unknown.status, unknown.message) == (refusal.status, refusal.message)
    assert "nobody-here" not in (await page.content()).split("<form")[0]
    await page.close()


async def test_throttled_login_says_when_to_retry(stack: Stack, context: BrowserContext) -> None:
    add_user(stack, "bob@example.com", "bob's own long password")
    page = await context.new_page()
    await page.goto(f"{stack.issuer}/login")
    for _ in range(FAILURES_PER_ACCOUNT):
        assert (await _log_in(page, "bob@example.com", "not bob's password")).status == 400

    throttled = await _log_in(page, "bob@example.com", "bob's own long password")  # even the right one, for now
    assert throttled.status == 429
    assert throttled.message == "Too many failed sign-ins. Try again in 15 minutes."
    assert throttled.retry_after is not None and 0 < int(throttled.retry_after) <= 900
    assert await page.locator("input#password[aria-invalid=true]").count() == 1


async def test_a_second_client_asks_for_consent_again_while_the_first_is_remembered(
    stack: Stack, context: BrowserContext
) -> None:
    async with LoopbackListener() as listener:
        first_storage = MemoryTokenStorage()
        first = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, first, storage=first_storage, client_name="Claude Code") as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error

        second = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, second, client_name="Cursor") as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
        (consent,) = second.consent_pages
        assert consent.startswith(f"Allow access? Cursor wants to act for {stack.email} at {stack.resource}.")

        # The first client again, tokens lost but registration kept: consent is remembered.
        first_storage.tokens = None
        again = BrowserSignIn(stack, context, listener)
        async with signed_in_client(stack, again, storage=first_storage) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
        assert (len(again.authorize_urls), again.consent_pages) == (1, [])


async def test_account_page_lists_the_application_and_revoking_it_makes_the_client_sign_in_again(
    stack: Stack, context: BrowserContext, screenshots: Screenshots
) -> None:
    email, password = "carol@example.com", "carol's own long password"
    add_user(stack, email, password, name="Carol")
    storage = MemoryTokenStorage()
    seen: list[httpx2.Response] = []
    async with LoopbackListener() as listener:
        other = BrowserSignIn(stack, context, listener, email=email, password=password)
        async with signed_in_client(stack, other, client_name="Claude Code") as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error

        sign_in = BrowserSignIn(stack, context, listener, email=email, password=password)
        async with signed_in_client(stack, sign_in, storage=storage, client_name="VS Code", seen=seen) as client:
            assert not (await client.call_tool("list_workspaces", {})).is_error
            assert storage.tokens is not None
            revoked_token = storage.tokens.access_token

            page = await context.new_page()
            await page.goto(f"{stack.issuer}/account")
            names = await page.locator(".applications li h3").all_inner_texts()
            assert sorted(names) == ["Claude Code", "VS Code"]
            entry = page.locator(".applications li", has=page.locator("h3", has_text="VS Code"))
            assert "Read the snippets you can see" in await entry.inner_text()
            await screenshots.capture(page, "account")
            await entry.get_by_role("button", name="Revoke access of VS Code").click()
            await page.wait_for_load_state()
            assert "Access revoked." in await page.locator("[role=status]").inner_text()
            assert await page.locator(".applications li h3").all_inner_texts() == ["Claude Code"]
            revoked_at = time.time()

            # The MCP server refuses the token within seconds ...
            refusal = await eventually(lambda: _refused(stack.resource, revoked_token), within=10)
            assert refusal.status_code == 401
            assert 'error="invalid_token"' in refusal.headers["www-authenticate"]
            assert refusal.json()["error_description"] == "the token was revoked: sign in again"

            # ... so the client's next call gets 401, signs in again (consent is asked again) and works.
            await asyncio.sleep(max(0.0, int(revoked_at) + 1.05 - time.time()))  # iat has whole seconds
            seen.clear()
            listed = await client.call_tool("list_workspaces", {})
            assert not listed.is_error, listed.content

    assert any(r.status_code == 401 and str(r.request.url) == stack.resource for r in seen)
    assert (len(sign_in.authorize_urls), len(sign_in.consent_pages)) == (2, 2)
    assert storage.tokens is not None and storage.tokens.access_token != revoked_token


async def test_a_refused_redirect_uri_shows_an_error_page_and_redirects_nowhere(
    stack: Stack, context: BrowserContext, screenshots: Screenshots
) -> None:
    registered = httpx.post(
        f"{stack.issuer}/register",
        json={
            "client_name": "Some editor",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": registered.json()["client_id"],
        "redirect_uri": "https://attacker.example/callback",
        "scope": "snippets:read",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": stack.resource,
    }
    page = await context.new_page()
    response = await page.goto(f"{stack.issuer}/authorize?{urlencode(query)}")
    assert response is not None and response.status == 400
    assert page.url.startswith(stack.issuer + "/authorize")
    assert await page.locator("h1").inner_text() == "This sign-in request cannot be completed"
    assert await page.locator(".error").inner_text() == "The redirect_uri is not registered for this client."
    await screenshots.capture(page, "error")


# Helpers -------------------------------------------------------------------------------------


class _Answer:
    def __init__(self, status: int, message: str, retry_after: str | None) -> None:
        self.status, self.message, self.retry_after = status, message, retry_after


async def _log_in(page: Page, email: str, password: str) -> _Answer:
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    async with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as info:
        await page.locator("form:has(input[name=password]) [type=submit]").click()
    response = await info.value
    await page.wait_for_load_state()
    message = " ".join((await page.locator("[role=alert]").inner_text()).split())
    return _Answer(response.status, message, await response.header_value("retry-after"))


async def _refused(resource: str, token: str) -> httpx.Response | None:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            resource,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        )
    return response if response.status_code != 200 else None
