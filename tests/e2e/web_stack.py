"""Running the web library for browser tests: both servers with the web client provisioned.

``web_library_stack(database)`` starts the authorization server and the MCP server as real
processes (``tests.stack.running_stack``) with a web client secret, so ``/library`` works;
``sign_in(page, stack, email, password)`` signs a Chromium page in through the real login
and consent pages of the authorization server and returns on the library page it asked for.
``module_database`` gives a module-scoped database of either backend, so one stack can serve
a whole test module.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import pytest
from playwright.async_api import Page

from tests.conftest import Database, _postgres_database
from tests.e2e.stacks import add_user, sqlite_database
from tests.stack import Stack, running_stack

SLOW_MS = 60_000


@dataclass
class WebStack:
    stack: Stack
    web_url: str  # e.g. http://127.0.0.1:PORT/library, no trailing slash
    client_secret: str

    @property
    def issuer(self) -> str:
        return self.stack.issuer

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env

    @property
    def email(self) -> str:
        """The account the stack starts with (``ada@example.com``, named Ada)."""
        return self.stack.email

    @property
    def password(self) -> str:
        return self.stack.password

    def add_user(self, email: str, password: str, name: str = "Bob") -> None:
        add_user(self.stack, email, password, name)


@asynccontextmanager
async def web_library_stack(database: Database, **settings: str) -> AsyncIterator[WebStack]:
    """Both servers on ``database`` with the web library enabled; ``settings`` as in ``sqlite_database``.

    Revocations are checked on every request (``revocation_check_seconds=0``) unless overridden;
    rate limits (which pages count against too) are out of reach unless overridden.
    """
    secret = secrets.token_urlsafe(32)
    extra = {
        "SKILLS_WEB_CLIENT_SECRET": secret,
        "SKILLS_REVOCATION_CHECK_SECONDS": "0",
        "SKILLS_RATE_LIMIT_READS_PER_MINUTE": "1000000",
        "SKILLS_RATE_LIMIT_WRITES_PER_MINUTE": "1000000",
        **{f"SKILLS_{key.upper()}": value for key, value in settings.items()},
    }
    manager = running_stack(database, extra_env=extra)
    stack = await anyio.to_thread.run_sync(manager.__enter__)
    try:
        origin = stack.resource.removesuffix("/mcp")
        yield WebStack(stack, f"{origin}/library", secret)
    finally:
        await anyio.to_thread.run_sync(manager.__exit__, None, None, None)


def module_database(backend: str, tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Database]:
    """A database of ``backend`` (``sqlite`` or ``postgresql``) for a module-scoped fixture."""
    if backend == "sqlite":
        yield sqlite_database(tmp_path_factory, name)
    else:
        yield from _postgres_database(tmp_path_factory.mktemp(name))


async def sign_in(
    page: Page, stack: WebStack, email: str, password: str, *, path: str = "/workspaces", decision: str = "allow"
) -> None:
    """Open ``path`` of the library signed out, sign in at the authorization server and answer consent.

    Returns once the browser is back on the library (or, with ``decision="deny"``, on its error page).
    """
    await page.goto(stack.web_url + path)
    if await page.locator("input[name=password]").count():
        await page.fill("input[name=email]", email)
        await page.fill("input[name=password]", password)
        await page.locator("form:has(input[name=password]) [type=submit]").click()
        # Hashing the password takes a while on a busy machine: wait longer than a page usually takes.
        await page.wait_for_url(
            lambda url: url.startswith((stack.web_url + "/", stack.issuer + "/consent")), timeout=SLOW_MS
        )
    if page.url.startswith(stack.issuer + "/consent"):
        await page.locator(f"button[name=decision][value={decision}]").click()
    await page.wait_for_url(lambda url: url.startswith(stack.web_url + "/"), timeout=SLOW_MS)
    await page.wait_for_load_state()
