"""Fixtures of the end-to-end tests: one Chromium per session and the screenshot directory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext

from tests.chromium import launch_chromium
from tests.e2e.screenshots import DOCS_IMAGES, Screenshots, updating_docs


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, shared by every browser test of the session."""
    async with launch_chromium() as browser:
        yield browser


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    if updating_docs():
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        return Screenshots(DOCS_IMAGES)
    return Screenshots(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
async def context(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) for one test."""
    profile = await chromium.new_context()
    profile.set_default_timeout(10_000)
    yield profile
    await profile.close()
