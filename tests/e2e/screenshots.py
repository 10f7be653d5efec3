"""Screenshots of the sign-in pages at a phone's and a desktop's width, taken by the browser tests.

Every run writes them to a temporary directory; with ``SKILLS_UPDATE_SCREENSHOTS=1`` they go
to ``docs/images/`` instead, where the README shows them. Each capture also checks that the
page fits the narrow width (no horizontal scrolling), so a layout regression fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page, ViewportSize

from tests.processes import ROOT

DOCS_IMAGES = ROOT / "docs" / "images"
VIEWPORTS: dict[str, ViewportSize] = {"narrow": {"width": 390, "height": 844}, "wide": {"width": 1280, "height": 800}}
PAGES = ("login", "consent", "account", "error")
"""The pages the README shows, each as ``<page>-narrow.png`` and ``<page>-wide.png``."""


def updating_docs() -> bool:
    return os.environ.get("SKILLS_UPDATE_SCREENSHOTS") == "1"


class Screenshots:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []

    async def capture(self, page: Page, name: str) -> None:
        """Screenshot ``page`` at each width, then restore its viewport."""
        original = page.viewport_size
        try:
            for label, size in VIEWPORTS.items():
                await page.set_viewport_size(size)
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"the {name} page scrolls sideways by {overflow}px at {size['width']}px"
                path = self.directory / f"{name}-{label}.png"
                await page.screenshot(path=path, full_page=True, animations="disabled", caret="hide")
                self.taken.append(path)
        finally:
            if original is not None:
                await page.set_viewport_size(original)
