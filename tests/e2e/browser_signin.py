"""The user's side of the sign-in in a real browser, ending on a real loopback listener."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2
from mcp.client import Client
from mcp.client.auth import OAuthClientProvider, OAuthFlowError, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from playwright.async_api import BrowserContext, Page

from tests.e2e.screenshots import Screenshots
from tests.loopback import LoopbackListener
from tests.stack import MemoryTokenStorage, Stack


@dataclass(frozen=True)
class Refusal:
    """A login attempt the page turned down: the HTTP status and the message it showed."""

    status: int
    message: str
    retry_after: str | None


class BrowserSignIn:
    """Opens the authorize URL in Chromium, signs in, answers consent; the listener gets the code.

    The user is the stack's unless ``email`` and ``password`` say otherwise. ``wrong_passwords``
    are typed first, each refusal kept in ``refusals``. ``authorize_urls``
    and ``consent_pages`` say how often the client sent the user to the browser and which consent
    pages were shown. With ``screens``, the login and consent pages are captured.
    """

    def __init__(
        self,
        stack: Stack,
        context: BrowserContext,
        listener: LoopbackListener,
        *,
        decision: str = "allow",
        wrong_passwords: Sequence[str] = (),
        screens: Screenshots | None = None,
        email: str | None = None,
        password: str | None = None,
    ):
        self.stack = stack
        self.email = email or stack.email
        self.password = password or stack.password
        self.context = context
        self.listener = listener
        self.decision = decision
        self.wrong_passwords = list(wrong_passwords)
        self.screens = screens
        self.pages: list[Page] = []
        self.authorize_urls: list[str] = []
        self.consent_pages: list[str] = []  # the text of each consent page shown
        self.refusals: list[Refusal] = []

    async def redirect_handler(self, url: str) -> None:
        self.authorize_urls.append(url)
        self.listener.reset()
        page = await self.context.new_page()
        self.pages.append(page)
        await page.goto(url)
        if await page.locator("input[name=password]").count():
            if self.screens is not None:
                await self.screens.capture(page, "login")
            for wrong in self.wrong_passwords:
                self.refusals.append(await self._refused_login(page, wrong))
            await self._submit_login(page, self.password)
        await page.wait_for_load_state()
        assert self.listener.result is not None
        if not self.listener.result.done():  # consent already given: straight back to the client
            await page.locator("button[name=decision]").first.wait_for()
            self.consent_pages.append(" ".join((await page.locator("main").inner_text()).split()))
            if self.screens is not None:
                await self.screens.capture(page, "consent")
            await page.locator(f"button[name=decision][value={self.decision}]").click()
        await self.listener.wait()

    async def _submit_login(self, page: Page, password: str) -> None:
        await page.fill("input[name=email]", self.email)
        await page.fill("input[name=password]", password)
        await page.locator("form:has(input[name=password]) [type=submit]").click()

    async def _refused_login(self, page: Page, password: str) -> Refusal:
        async with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login")) as info:
            await self._submit_login(page, password)
        response = await info.value
        await page.wait_for_load_state()
        message = await page.locator("[role=alert]").inner_text()
        return Refusal(response.status, " ".join(message.split()), await response.header_value("retry-after"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        result = await self.listener.wait()
        if "error" in result:
            raise OAuthFlowError(f"authorization failed: {result['error']}")
        return AuthorizationCodeResult(code=result["code"], state=result.get("state"), iss=result.get("iss"))


def browser_http_client(
    stack: Stack,
    sign_in: BrowserSignIn,
    storage: TokenStorage | None = None,
    *,
    client_name: str = "Claude Code",
    server_url: str | None = None,
    client_metadata_url: str | None = None,
    seen: list[httpx2.Response] | None = None,
) -> httpx2.AsyncClient:
    """The official client's HTTP side: OAuth (DCR, or CIMD with ``client_metadata_url``) on httpx2.

    Every response the client receives, the OAuth flow's included, is appended to ``seen``.
    """
    provider = OAuthClientProvider(
        server_url=server_url or stack.resource,
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
        client_metadata_url=client_metadata_url,
    )

    async def keep(response: httpx2.Response) -> None:
        if seen is not None:
            seen.append(response)

    return httpx2.AsyncClient(auth=provider, timeout=30, event_hooks={"response": [keep]})


@asynccontextmanager
async def signed_in_client(
    stack: Stack,
    sign_in: BrowserSignIn,
    *,
    mode: str = "2026-07-28",
    storage: TokenStorage | None = None,
    client_name: str = "Claude Code",
    server_url: str | None = None,
    client_metadata_url: str | None = None,
    seen: list[httpx2.Response] | None = None,
) -> AsyncIterator[Client]:
    """The official MCP client over streamable HTTP, signing in through ``sign_in`` when challenged."""
    url = server_url or stack.resource
    async with browser_http_client(
        stack,
        sign_in,
        storage,
        client_name=client_name,
        server_url=url,
        client_metadata_url=client_metadata_url,
        seen=seen,
    ) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client


def find_error(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` in ``error``, its causes and (nested) exception groups."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None
