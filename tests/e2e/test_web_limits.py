"""The web library's limits, in a real headless Chromium on SQLite and on Postgres.

Rate limits: page views count against the user's ``read`` bucket and forms that change
something against ``write``, the MCP server's own counters (small limits here); over the limit
a 429 page with ``Retry-After`` and nothing written; the render preview counts as a read and
signing out always works. Sizes: a supporting file typed into the skill-files page up to the
configured maximum is saved (Starlette's default would have cut a field at 1 MiB), one byte
more gets the same 400 as an upload one byte too large, a form past the body cap a 413 page
that names the limit; a snippet body of the longest length in four-byte characters is saved.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text

from mcpserver.tools.snippets import MAX_BODY
from mcpserver.web.limits import MAX_BODY_BYTES
from shared.db import make_engine
from shared.skill_rules.limits import MAX_FILE_BYTES
from tests.conftest import Database
from tests.e2e.web_stack import WebStack, module_database, sign_in, web_library_stack

WRITES, READS = 8, 12
ERIN = ("erin@example.com", "erin's long password", "Erin")
BOB = ("bob@example.com", "bob's long password", "Bob")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    yield from module_database(request.param, tmp_path_factory, "web-limits")


@pytest.fixture(scope="module")
async def web(web_database: Database) -> AsyncIterator[WebStack]:
    limits = {"rate_limit_writes_per_minute": str(WRITES), "rate_limit_reads_per_minute": str(READS)}
    async with web_library_stack(web_database, **limits) as stack:
        for email, password, name in (ERIN, BOB):
            stack.add_user(email, password, name)
        yield stack


def _workspaces_named(database: Database, name: str) -> int:
    engine = make_engine(database.admin_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(text("select count(*) from workspaces where name = :n"), {"n": name}) or 0)
    finally:
        engine.dispose()


def start_of_a_fresh_minute() -> None:
    """Counting windows are whole minutes: do not let a test straddle two."""
    if time.time() % 60 > 40:
        time.sleep(60 - time.time() % 60 + 0.1)


async def _page(browser: Browser, web: WebStack, email: str, password: str) -> Page:
    profile = await browser.new_context()
    profile.set_default_timeout(30_000)
    page = await profile.new_page()
    await sign_in(page, web, email, password)
    return page


async def _token(page: Page) -> str:
    return await page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


async def _create_workspace(page: Page, web: WebStack, token: str, name: str) -> str:
    created = await page.request.post(
        web.web_url + "/workspaces", form={"csrf_token": token, "name": name}, max_redirects=0
    )
    assert created.status == 303, await created.text()
    return created.headers["location"].split("/workspaces/", 1)[1].split("?", 1)[0]


async def _create_snippet(page: Page, web: WebStack, token: str, slug: str, title: str, body: str) -> str:
    created = await page.request.post(
        f"{web.web_url}/workspaces/{slug}/snippets/new",
        form={"csrf_token": token, "title": title, "body": body},
        max_redirects=0,
    )
    assert created.status == 303, (await created.text())[-2000:]
    return created.headers["location"].split("/snippets/", 1)[1].split("?", 1)[0]


async def test_pages_and_forms_count_against_the_users_rate_limits(
    web: WebStack, web_database: Database, chromium: Browser
) -> None:
    page = await _page(chromium, web, *BOB[:2])
    try:
        token = await _token(page)
        start_of_a_fresh_minute()
        slug = await _create_workspace(page, web, token, "Counted")  # write 1
        snippet = await _create_snippet(page, web, token, slug, "Greeting", "Hello {{name}}")  # write 2
        for number in range(WRITES - 2):
            await _create_workspace(page, web, token, f"Counted {number}")
        refused = await page.request.post(
            web.web_url + "/workspaces", form={"csrf_token": token, "name": "One too many"}, max_redirects=0
        )
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        text = await refused.text()
        assert f"limit of {WRITES} changes a minute" in text and "Nothing was changed" in text
        assert "content-security-policy" in refused.headers

        # Rendering changes nothing: a read, still allowed.
        rendered = await page.request.post(
            f"{web.web_url}/snippets/{snippet}/render", form={"csrf_token": token, "value-name": "Ada"}
        )
        assert rendered.status == 200 and "Hello Ada" in await rendered.text()

        # Page views run out too, on their own count; the refusal is a page with a retry time.
        statuses = []
        for _ in range(READS + 1):
            answer = await page.goto(web.web_url + "/workspaces")
            assert answer is not None
            statuses.append(answer.status)
            if answer.status == 429:
                assert 1 <= int(answer.headers["retry-after"]) <= 60
                await expect(page.get_by_role("heading", level=1)).to_have_text("Too many requests")
                await expect(page.get_by_role("alert")).to_contain_text(f"limit of {READS} pages a minute")
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {200}, statuses

        # Nothing of the refused form was written, and signing out still works.
        assert _workspaces_named(web_database, "One too many") == 0
        signed_out = await page.request.post(web.web_url + "/signout", form={"csrf_token": token}, max_redirects=0)
        assert signed_out.status == 303
        # The signed-out page offers the authorization server's own sign-out (its account page).
        await page.goto(web.web_url + "/signed-out")
        link = page.get_by_role("link", name="sign out at the authorization server")
        await expect(link).to_have_attribute("href", web.issuer + "/account")
    finally:
        await page.context.close()
    # Another person has a budget of their own.
    other = await _page(chromium, web, *ERIN[:2])
    try:
        assert (await other.request.get(web.web_url + "/workspaces")).status == 200
    finally:
        await other.context.close()


async def test_typed_files_and_bodies_up_to_the_configured_maximum_are_accepted(
    web: WebStack, chromium: Browser
) -> None:
    page = await _page(chromium, web, *ERIN[:2])
    try:
        token = await _token(page)
        slug = await _create_workspace(page, web, token, "Sizes")
        # The longest body, in four-byte characters: 400 kB of UTF-8, 1.2 MB once form-encoded.
        longest = await _create_snippet(page, web, token, slug, "Longest", "🦆" * MAX_BODY)
        too_long = await page.request.post(
            f"{web.web_url}/workspaces/{slug}/snippets/new",
            form={"csrf_token": token, "title": "Too long", "body": "🦆" * (MAX_BODY + 1)},
            max_redirects=0,
        )
        assert too_long.status == 400
        assert f"at most {MAX_BODY} characters" in (await too_long.text()).lower()

        # A file typed to the byte limit, through the form itself, lines and all.
        line = "x" * 63 + "\n"
        typed = line * (MAX_FILE_BYTES // len(line))
        assert len(typed.encode()) == MAX_FILE_BYTES
        await page.goto(f"{web.web_url}/snippets/{longest}/files")
        await page.get_by_label("Path in the skill").fill("notes/typed.txt")
        # Typing 2 MiB key by key takes minutes: set the field's value, then submit the form as a person would.
        await page.locator("#file-content").evaluate("(field, text) => { field.value = text; }", typed)
        await page.get_by_role("button", name="Add file").click()
        await expect(page.get_by_role("status")).to_contain_text("File added")
        await expect(page.locator("main")).to_contain_text("notes/typed.txt")

        # One byte more: the same answer, typed or uploaded.
        files_url = f"{web.web_url}/snippets/{longest}/files"
        one_more = typed + "x"
        for fields in (
            {"csrf_token": token, "path": "notes/over.txt", "content": one_more},
            {
                "csrf_token": token,
                "path": "notes/over.txt",
                "upload": {"name": "over.txt", "mimeType": "text/plain", "buffer": one_more.encode()},
            },
        ):
            over = await page.request.post(files_url, multipart=fields, max_redirects=0)  # type: ignore[arg-type]
            assert over.status == 400
            assert f"at most {MAX_FILE_BYTES} bytes" in await over.text()

        # Past the whole body's cap: a 413 page that names the limit.
        huge = await page.request.post(
            files_url,
            multipart={"csrf_token": token, "path": "notes/huge.txt", "content": "x" * (MAX_BODY_BYTES + 1)},
            max_redirects=0,
        )
        assert huge.status == 413
        huge_text = await huge.text()
        assert "larger than the library accepts" in huge_text and "at most 2 MiB" in huge_text
        assert "Traceback" not in huge_text

        await page.goto(files_url)
        await expect(page.locator("main")).not_to_contain_text("over.txt")
        await expect(page.locator("main")).not_to_contain_text("huge.txt")
    finally:
        await page.context.close()
