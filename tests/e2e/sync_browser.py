"""The "browser" that ``sync-skills`` opens in tests, through ``webbrowser.open`` and ``$BROWSER``.

Python's ``webbrowser`` runs ``$BROWSER`` with the URL as its argument, so the command under
test opens its sign-in page exactly as on a desktop. This stand-in signs in with plain form
posts (tests/browser.py), answers consent, and follows the final redirect to the command's
loopback listener, as a browser would. Each URL it is given is appended to a log file, so a
test can tell how often the user was sent to sign in. ``SYNC_TEST_BROWSER=refuse`` makes it
deny access instead.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import httpx

from tests.browser import FormBrowser
from tests.processes import ROOT


def install(directory: Path) -> Path:
    """An executable for ``$BROWSER`` that runs this module (``$BROWSER`` names one program)."""
    script = directory / "test-browser"
    script.write_text(f'#!/bin/sh\ncd "{ROOT}" && exec "{sys.executable}" -m tests.e2e.sync_browser "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def main() -> int:
    url = sys.argv[1]
    with Path(os.environ["SYNC_TEST_BROWSER_LOG"]).open("a") as log:
        log.write(url + "\n")
    browser = FormBrowser(os.environ["SYNC_TEST_ISSUER"])
    try:
        decision = "deny" if os.environ.get("SYNC_TEST_BROWSER") == "refuse" else "allow"
        redirect = browser.authorize(
            url, email=os.environ["SYNC_TEST_EMAIL"], password=os.environ["SYNC_TEST_PASSWORD"], decision=decision
        )
        httpx.get(redirect.url, timeout=10)  # the redirect lands on the command's loopback listener
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
