"""Helpers for the people tests: a server with low login limits, fresh accounts, the account page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from authserver.users import create_user
from shared.db import transaction
from tests.authserver.auth_browser import Form, _FormParser, sign_in
from tests.authserver.conftest import RunningServer, start_server

PASSWORD = "correct horse battery staple"
ACCOUNT_LIMIT = 3
ADDRESS_LIMIT = 5
WINDOW = 900


@pytest.fixture(scope="module", name="people_server")
def people_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server of its own: its login limits are low, and its tests fail logins on purpose."""
    running = start_server(
        tmp_path_factory.mktemp("people"),
        login_failures_per_account=ACCOUNT_LIMIT,
        login_failures_per_address=ADDRESS_LIMIT,
        login_throttle_window=WINDOW,
    )
    yield running
    running.stop()


def new_user(server: RunningServer, password: str = PASSWORD, name: str = "") -> str:
    """A fresh account (tests that change or lock accounts never share one)."""
    email = f"user-{secrets.token_hex(4)}@example.com"
    with transaction(server.db) as db:
        create_user(db, email, password, name)
    return email


def browser(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.issuer, follow_redirects=False, timeout=10)


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_for(html: str, path: str) -> Form:
    """The one form of the page that posts to ``path``."""
    matching = [form for form in forms(html) if form.action.endswith(path)]
    assert len(matching) == 1, [form.action for form in forms(html)]
    return matching[0]


def sign_in_to_account(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Sign in from the plain login page; returns the account page."""
    page = http.get("/login")
    assert page.status_code == 200, page.text
    done = sign_in(http, page, email, password)
    assert done.status_code == 303 and done.headers["location"].endswith("/account"), done.text
    account = http.get("/account")
    assert account.status_code == 200, account.text
    return account


class Labels(HTMLParser):
    """What accessibility checks need: ids, label targets, visible inputs, headings, lang."""

    def __init__(self) -> None:
        super().__init__()
        self.lang = ""
        self.ids: set[str] = set()
        self.label_targets: set[str] = set()
        self.inputs: list[dict[str, str]] = []
        self.headings: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "html":
            self.lang = a.get("lang", "")
        elif tag == "label":
            self.label_targets.add(a.get("for", ""))
        elif tag == "input" and a.get("type") != "hidden":
            self.inputs.append(a)
        elif tag in ("h1", "h2", "h3"):
            self.headings.append(tag)


def accessibility_problems(html: str) -> list[str]:
    page = Labels()
    page.feed(html)
    problems = [] if page.lang else ["no lang on <html>"]
    if not page.headings or page.headings[0] != "h1" or page.headings.count("h1") != 1:
        problems.append(f"headings should start with one h1: {page.headings}")
    for field in page.inputs:
        if field.get("id") not in page.label_targets:
            problems.append(f"input {field.get('name')} has no label")
        for described in field.get("aria-describedby", "").split():
            if described not in page.ids:
                problems.append(f"input {field.get('name')} describedby missing #{described}")
    return problems
