"""The user's side of the sign-in in a real browser, ending on a real loopback listener."""

from __future__ import annotations

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError, TokenStorage
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from playwright.async_api import BrowserContext, Page

from tests.loopback import LoopbackListener
from tests.stack import MemoryTokenStorage, Stack


class BrowserSignIn:
    """Opens the authorize URL in Chromium, signs in, answers consent; the listener gets the code."""

    def __init__(self, stack: Stack, context: BrowserContext, listener: LoopbackListener, *, decision: str = "allow"):
        self.stack = stack
        self.context = context
        self.listener = listener
        self.decision = decision
        self.pages: list[Page] = []

    async def redirect_handler(self, url: str) -> None:
        self.listener.reset()
        page = await self.context.new_page()
        self.pages.append(page)
        await page.goto(url)
        if await page.locator("input[name=password]").count():
            await page.fill("input[name=email]", self.stack.email)
            await page.fill("input[name=password]", self.stack.password)
            await page.locator("form:has(input[name=password]) [type=submit]").click()
        await page.wait_for_load_state()
        assert self.listener.result is not None
        if not self.listener.result.done():  # consent already given: straight back to the client
            await page.locator(f"button[name=decision][value={self.decision}]").click()
        await self.listener.wait()

    async def callback_handler(self) -> AuthorizationCodeResult:
        result = await self.listener.wait()
        if "error" in result:
            raise OAuthFlowError(f"authorization failed: {result['error']}")
        return AuthorizationCodeResult(code=result["code"], state=result.get("state"), iss=result.get("iss"))


def browser_http_client(
    stack: Stack, sign_in: BrowserSignIn, storage: TokenStorage | None = None, *, client_name: str = "Claude Code"
) -> httpx2.AsyncClient:
    provider = OAuthClientProvider(
        server_url=stack.resource,
        client_metadata=OAuthClientMetadata(
            client_name=client_name,
            redirect_uris=[sign_in.listener.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage or MemoryTokenStorage(),
        redirect_handler=sign_in.redirect_handler,
        callback_handler=sign_in.callback_handler,
    )
    return httpx2.AsyncClient(auth=provider, timeout=30)
