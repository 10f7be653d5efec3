"""The web library's snippet pages in a real headless Chromium, on SQLite and on Postgres.

People sign in through the authorization server's own pages (``tests/e2e/web_stack.py``) and
work on snippets the way they would: write one with a variable, edit it, compare versions,
restore one, search, share, fill in its variables, manage its supporting files. A person
outside the workspace gets the same 404 for its snippets as for nothing at all; a member who
may not change a snippet is told so; a stale edit is refused with the person's text kept.
The screenshots of the main pages (phone and desktop widths) come from the SQLite run.
"""

from __future__ import annotations

import re
import struct
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged
from playwright.async_api import Browser, BrowserContext, Page, expect

from mcpserver.web.snippets import PAGE_SIZE, SEARCH_PAGE_SIZE
from tests.conftest import Database
from tests.e2e.screenshots import DOCS_IMAGES, VIEWPORTS, Screenshots
from tests.e2e.web_stack import WebStack, module_database, sign_in, web_library_stack
from tests.processes import ROOT
from tests.stack import SignIn, oauth_http_client

BOB = ("bob@example.com", "bob's long password", "Bob")
MALLORY = ("mallory@example.com", "mallory's long password", "Mallory")
SCREENSHOTS = ("web-snippet", "web-snippet-edit", "web-snippets", "web-search", "web-diff", "web-render", "web-files")
"""The pages the README shows, captured by the first test on SQLite."""

BODY = """# Deploy {{service}}

Check the **dashboards** before you start.

1. Announce the deploy in the channel
2. Run the pipeline for {{service}}
3. Watch the error rate for ten minutes

<script>alert("not run")</script>
[Runbook](https://example.com/runbook) and [a trap](javascript:alert(1))
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    yield from module_database(request.param, tmp_path_factory, "web-snippets")


@pytest.fixture(scope="module")
async def web(web_database: Database) -> AsyncIterator[WebStack]:
    async with web_library_stack(web_database) as stack:
        for email, password, name in (BOB, MALLORY):
            stack.add_user(email, password, name)
        yield stack


async def _person(browser: Browser) -> BrowserContext:
    profile = await browser.new_context(viewport={"width": 1280, "height": 800})
    profile.set_default_timeout(15_000)
    return profile


async def _page(browser: Browser, web: WebStack, email: str, password: str) -> Page:
    page = await (await _person(browser)).new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # data-confirm forms ask first
    await sign_in(page, web, email, password)
    return page


async def _workspace(page: Page, web: WebStack, name: str) -> str:
    await page.goto(web.web_url + "/workspaces")
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Create workspace").click()
    await page.wait_for_url(re.compile(r"/library/workspaces/[a-z0-9-]+(\?.*)?$"))
    return page.url.split("/workspaces/", 1)[1].split("?", 1)[0]


async def _invite(page: Page, web: WebStack, slug: str, email: str) -> None:
    await page.goto(f"{web.web_url}/workspaces/{slug}")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Invite").click()
    await expect(page.get_by_role("status")).to_contain_text("Invitation recorded")


async def _new_snippet(page: Page, web: WebStack, slug: str, title: str, body: str, *, tags: str = "") -> str:
    """Create a snippet through the form; returns its id."""
    await page.goto(f"{web.web_url}/workspaces/{slug}/snippets/new")
    await page.get_by_label("Title", exact=True).fill(title)
    await page.get_by_label("Tags").fill(tags)
    await page.get_by_label("Body").fill(body)
    await page.get_by_role("button", name="Create snippet").click()
    await expect(page.get_by_role("status")).to_contain_text("Snippet created")
    return page.url.split("/snippets/", 1)[1].split("?", 1)[0]


async def _capture(screenshots: Screenshots, page: Page, name: str) -> None:
    await page.wait_for_load_state()  # the stylesheets too, before the width is measured
    await screenshots.capture(page, name)


async def _closed(page: Page) -> None:
    await page.context.close()


async def test_write_edit_compare_restore_search_share_fill_in_and_attach_files(
    web: WebStack, chromium: Browser, screenshots: Screenshots, web_database: Database
) -> None:
    page = await _page(chromium, web, web.email, web.password)
    shots = web_database.backend == "sqlite"
    try:
        slug = await _workspace(page, web, "Platform Team")

        # Write: the variables panel picks up {{service}} from the body before saving.
        await page.goto(f"{web.web_url}/workspaces/{slug}/snippets/new")
        await page.get_by_label("Title", exact=True).fill("Deploy checklist")
        await page.locator("#description").fill("Before and after a production deploy.")
        await page.get_by_label("Tags").fill("Ops, deploy")
        await page.get_by_label("Body").fill(BODY)
        await page.get_by_role("button", name="Update variables from the body").click()
        panel = page.get_by_role("region", name="Variables")
        await expect(panel.get_by_role("group", name="{{service}}")).to_be_visible()
        await panel.get_by_label("Description").fill("Which service to deploy")
        await expect(page.get_by_label("Body")).to_have_value(BODY)  # the refresh kept what was typed
        if shots:
            await _capture(screenshots, page, "web-snippet-edit")
        await page.get_by_role("button", name="Create snippet").click()
        await expect(page.get_by_role("status")).to_contain_text("Snippet created")
        snippet_url = page.url.split("?", 1)[0]
        snippet_id = snippet_url.rsplit("/", 1)[1]

        # Read: Markdown rendered, raw HTML and script links inert, the variable described.
        article = page.get_by_role("article", name="Snippet")
        await expect(article.get_by_role("heading", name="Deploy {{service}}")).to_be_visible()
        await expect(article.locator("strong")).to_have_text("dashboards")
        await expect(article.locator("li")).to_have_count(3)
        await expect(article).to_contain_text('<script>alert("not run")</script>')
        assert await article.locator("script").count() == 0
        await expect(article.get_by_role("link", name="Runbook")).to_have_attribute(
            "rel", "nofollow noopener noreferrer"
        )
        await expect(article.get_by_role("link", name="a trap")).to_have_count(0)
        facts = page.get_by_role("complementary", name="About this snippet")
        await expect(facts).to_contain_text("Which service to deploy")
        await expect(facts).to_contain_text(f"skill://{slug}/deploy-checklist/SKILL.md")
        await expect(facts.get_by_role("list").filter(has_text="ops")).to_contain_text("deploy")
        if shots:
            await _capture(screenshots, page, "web-snippet")

        # Edit: a new version, based on the version shown.
        await page.get_by_role("link", name="Edit").click()
        await expect(page.get_by_label("Title", exact=True)).to_have_value("Deploy checklist")
        await page.get_by_label("Body").fill(
            BODY.replace("ten minutes", "fifteen minutes") + "\nRoll back if it rises.\n"
        )
        await page.get_by_label("What changed").fill("longer watch, rollback")
        await page.get_by_role("button", name="Save", exact=True).click()
        await expect(page.get_by_role("status")).to_contain_text("Saved as a new version")
        await expect(page.get_by_role("article", name="Snippet")).to_contain_text("Roll back if it rises.")

        # History and diff: removed and added lines, numbered, readable without colour.
        await page.get_by_role("link", name="History").click()
        rows = page.locator("table.versions tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_contain_text("longer watch, rollback")
        await page.get_by_role("link", name="Changes in version 2").click()
        assert page.url.endswith(f"/snippets/{snippet_id}/versions/1/diff/2")
        diff = page.get_by_role("table", name="Body, line by line")
        await expect(diff.locator("tr.removed")).to_contain_text("Watch the error rate for ten minutes")
        await expect(diff.locator("tr.added").first).to_contain_text("fifteen minutes")
        await expect(diff.locator("tr.removed .visually-hidden")).to_have_text("removed")
        await expect(page.get_by_role("status")).to_have_text("Body: 3 line(s) added, 1 removed.")
        if shots:
            await _capture(screenshots, page, "web-diff")

        # Restore version 1: its content comes back as version 3.
        await page.get_by_role("button", name="Restore version 1").click()
        await expect(page.get_by_role("status")).to_contain_text("Restored as a new version")
        body = page.get_by_role("article", name="Snippet")
        await expect(body).to_contain_text("ten minutes")
        await expect(body).not_to_contain_text("Roll back")
        await expect(page.get_by_role("complementary", name="About this snippet")).to_contain_text("3,")
        await page.goto(f"{snippet_url}/versions")
        await expect(page.locator("table.versions tbody tr").first).to_contain_text("restored version 1")

        # Search from the navigation: ranked, the matches marked.
        await _new_snippet(page, web, slug, "Incident review", "Write down what happened and the timeline.")
        await page.get_by_role("search").first.get_by_role("searchbox").fill("dashboards")
        await page.get_by_role("search").first.get_by_role("button", name="Search").click()
        results = page.get_by_role("list", name="Results, best match first")
        await expect(results.get_by_role("heading")).to_have_count(1)
        await expect(results.locator("mark").first).to_have_text(re.compile("dashboards", re.I))
        await page.goto(f"{web.web_url}/snippets/search?q=deploying")  # stemming: deploying finds deploy
        await expect(results.get_by_role("link", name="Deploy checklist")).to_be_visible()
        await expect(results.locator("h2 mark")).to_have_text("Deploy")
        if shots:
            await _capture(screenshots, page, "web-search")
        await page.goto(f"{web.web_url}/snippets/search?q=%3Cmark%3E+nothing")
        await expect(page.get_by_role("status")).to_contain_text("Nothing matches “<mark> nothing”")

        # The workspace's list, filtered by tag.
        await page.goto(f"{web.web_url}/workspaces/{slug}/snippets")
        listed = page.get_by_role("list", name="Snippets, most recently changed first")
        await expect(listed.get_by_role("heading")).to_have_count(2)
        await page.get_by_label("Tag", exact=True).fill("ops")
        await page.get_by_role("button", name="Filter").click()
        await expect(listed.get_by_role("heading")).to_have_count(1)
        await expect(listed.get_by_role("heading")).to_have_text("Deploy checklist")
        if shots:
            await _capture(screenshots, page, "web-snippets")

        # Fill in: a missing required value is named, then the text comes back filled.
        await page.goto(f"{snippet_url}/render")
        await page.get_by_role("button", name="Fill in").click()
        await expect(page.get_by_role("alert")).to_contain_text("Fill in service")
        await page.get_by_label("service").fill("payments-api")
        await page.get_by_role("button", name="Fill in").click()
        rendered = page.get_by_label("The filled-in text")
        await expect(rendered).to_contain_text("# Deploy payments-api")
        await expect(rendered).to_contain_text("Run the pipeline for payments-api")
        if shots:
            await _capture(screenshots, page, "web-render")

        # Share: public, then every user can read it.
        await page.goto(f"{snippet_url}/share")
        await page.get_by_label("public").check()
        await page.get_by_role("button", name="Change visibility").click()
        await expect(page.get_by_role("status")).to_contain_text("Visibility changed")
        await expect(page.get_by_role("complementary", name="About this snippet")).to_contain_text(
            "Every signed-in user"
        )

        # Supporting files of its skill: add by typing, read, replace, remove.
        await page.goto(f"{snippet_url}/files")
        await page.get_by_label("Path in the skill").fill("references/rollback.md")
        await page.get_by_label("…or type its text").fill("# Rollback\n\nRun <the> previous release.\n")
        await page.get_by_role("button", name="Add file").click()
        await expect(page.get_by_role("status")).to_contain_text("File added")
        files = page.locator("table.files-table tbody tr")
        await expect(files).to_have_count(1)
        await expect(files).to_contain_text("text/markdown")
        await page.get_by_role("link", name="references/rollback.md").click()
        await expect(page.get_by_label("Contents of references/rollback.md")).to_contain_text(
            "Run <the> previous release."
        )
        await page.goto(f"{snippet_url}/files")
        await page.get_by_label("Path in the skill").fill("../escape.md")
        await page.get_by_label("…or type its text").fill("x")
        await page.get_by_role("button", name="Add file").click()
        await expect(page.locator(".error-summary")).to_be_visible()
        await expect(page.get_by_label("Path in the skill")).to_have_value("../escape.md")
        await page.get_by_label("Path in the skill").fill("references/rollback.md")
        await page.get_by_label("Upload a file").set_input_files(
            files=[{"name": "rollback.md", "mimeType": "text/markdown", "buffer": b"# Rollback v2\n"}]
        )
        await page.get_by_label("…or type its text").fill("")
        await page.get_by_role("button", name="Add file").click()
        await expect(page.get_by_role("status")).to_contain_text("File replaced")
        if shots:
            await _capture(screenshots, page, "web-files")
        await page.get_by_role("button", name="Remove references/rollback.md").click()
        await expect(page.get_by_role("status")).to_contain_text("File removed")
        await expect(page.locator("table.files-table")).to_have_count(0)
    finally:
        await _closed(page)


async def test_a_stale_edit_is_refused_with_the_text_kept_and_the_changes_one_click_away(
    web: WebStack, chromium: Browser
) -> None:
    first = await _page(chromium, web, web.email, web.password)
    second = await (await _person(chromium)).new_page()
    try:
        slug = await _workspace(first, web, "Conflicts")
        snippet_id = await _new_snippet(first, web, slug, "Shared notes", "line one\n")
        await second.context.add_cookies(await first.context.cookies())  # the same person, a second tab
        await first.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        await second.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        await second.get_by_label("Body").fill("line one\nfrom the second tab\n")
        await second.get_by_role("button", name="Save", exact=True).click()
        await expect(second.get_by_role("status")).to_contain_text("Saved as a new version")

        mine = "line one\nfrom the first tab\n"
        await first.get_by_label("Body").fill(mine)
        async with first.expect_response(lambda r: r.request.method == "POST") as answer:
            await first.get_by_role("button", name="Save", exact=True).click()
        assert (await answer.value).status == 409
        alert = first.get_by_role("alert")
        await expect(alert).to_contain_text("someone saved version 2 while you were editing version 1")
        await expect(first.get_by_label("Body")).to_have_value(mine)
        await expect(alert.get_by_role("link", name="See what changed between version 1 and 2")).to_have_attribute(
            "href", f"/library/snippets/{snippet_id}/versions/1/diff/2"
        )
        await first.get_by_role("button", name="Save over version 2").click()
        await expect(first.get_by_role("status")).to_contain_text("Saved as a new version")
        await expect(first.get_by_role("article", name="Snippet")).to_contain_text("from the first tab")

        # A refused field keeps the input and says which field.
        await _new_snippet(first, web, slug, "Other notes", "other\n")
        await first.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        await first.locator("#slug").fill("other-notes")
        await first.get_by_label("Body").fill("kept body\n")
        async with first.expect_response(lambda r: r.request.method == "POST") as answer:
            await first.get_by_role("button", name="Save", exact=True).click()
        assert (await answer.value).status == 409
        await expect(first.locator("#slug-error")).to_contain_text("already used in this workspace")
        await expect(first.locator("#slug")).to_have_attribute("aria-invalid", "true")
        await expect(first.get_by_label("Body")).to_have_value("kept body\n")

        # Enter in a field saves (the form's first button), it does not just refresh the variables.
        await first.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        await first.get_by_label("Title", exact=True).fill("Shared notes, renamed")
        await first.get_by_label("Title", exact=True).press("Enter")
        await expect(first.get_by_role("status")).to_contain_text("Saved as a new version")
        await expect(first.get_by_role("heading", level=1)).to_have_text("Shared notes, renamed")

        # A restore from a history page that is out of date is refused too.
        await second.goto(f"{web.web_url}/snippets/{snippet_id}/versions")
        await first.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        await first.get_by_label("Body").fill("newest\n")
        await first.get_by_role("button", name="Save", exact=True).click()
        await expect(first.get_by_role("status")).to_contain_text("Saved as a new version")
        second.on("dialog", lambda dialog: dialog.accept())
        async with second.expect_response(lambda r: r.request.method == "POST") as answer:
            await second.get_by_role("button", name="Restore version 1").click()
        assert (await answer.value).status == 409
        await expect(second.get_by_role("alert")).to_contain_text("was saved after the page you restored from")
        await first.goto(f"{web.web_url}/snippets/{snippet_id}")
        await expect(first.get_by_role("article", name="Snippet")).to_have_text("newest")
    finally:
        await _closed(first)
        await _closed(second)


async def test_outsiders_see_nothing_and_members_who_may_not_change_a_snippet_are_told_so(
    web: WebStack, chromium: Browser
) -> None:
    ada = await _page(chromium, web, web.email, web.password)
    bob = await _page(chromium, web, *BOB[:2])
    mallory = await _page(chromium, web, *MALLORY[:2])
    try:
        slug = await _workspace(ada, web, "Secret Project")
        await _invite(ada, web, slug, BOB[0])
        snippet_id = await _new_snippet(ada, web, slug, "Launch codes", "The zebra password is {{word}}.\n")
        await ada.goto(f"{web.web_url}/snippets/{snippet_id}/files")
        await ada.get_by_label("Path in the skill").fill("notes.txt")
        await ada.get_by_label("…or type its text").fill("hidden file")
        await ada.get_by_role("button", name="Add file").click()
        await expect(ada.get_by_role("status")).to_contain_text("File added")
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        await ada.get_by_label("Upload a file").set_input_files(
            files=[{"name": "diagram <1>.png", "mimeType": "image/png", "buffer": png}]
        )
        await ada.get_by_label("Path in the skill").fill("assets/diagram.png")
        await ada.get_by_role("button", name="Add file").click()
        await expect(ada.locator("table.files-table tbody tr", has_text="assets/diagram.png")).to_contain_text(
            "image/png"
        )
        download = await ada.request.get(f"{web.web_url}/snippets/{snippet_id}/files/assets/diagram.png")
        assert download.status == 200 and await download.body() == png
        assert download.headers["content-type"] == "application/octet-stream"  # never rendered as our page
        assert download.headers["content-disposition"].startswith('attachment; filename="diagram.png"')
        assert download.headers["x-content-type-options"] == "nosniff"
        await _workspace(mallory, web, "Elsewhere")

        paths = [
            f"/snippets/{snippet_id}",
            f"/snippets/{snippet_id}/edit",
            f"/snippets/{snippet_id}/versions",
            f"/snippets/{snippet_id}/versions/1",
            f"/snippets/{snippet_id}/versions/1/diff/1",
            f"/snippets/{snippet_id}/render",
            f"/snippets/{snippet_id}/files",
            f"/snippets/{snippet_id}/files/notes.txt",
            f"/snippets/{snippet_id}/files/assets/diagram.png",
            f"/snippets/{snippet_id}/share",
            f"/snippets/{snippet_id}/delete",
            f"/workspaces/{slug}/snippets",
            f"/workspaces/{slug}/snippets/new",
            "/snippets/00000000-0000-4000-8000-000000000000",
        ]
        for path in paths:
            answer = await mallory.goto(web.web_url + path)
            assert answer is not None and answer.status == 404, path
            await expect(mallory.get_by_role("heading", name="Not found")).to_be_visible()
            await expect(mallory.locator("main")).not_to_contain_text("Launch codes")
        token = await mallory.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        for action, form in (
            (f"/snippets/{snippet_id}/edit", {"title": "pwned", "body": "x"}),
            (f"/snippets/{snippet_id}/share", {"visibility": "public"}),
            (f"/snippets/{snippet_id}/restore", {"version": "1"}),
            (f"/snippets/{snippet_id}/files", {"path": "evil.md", "content": "x"}),
            (f"/snippets/{snippet_id}/files/remove", {"path": "notes.txt"}),
            (f"/snippets/{snippet_id}/delete", {}),
            (f"/workspaces/{slug}/snippets/new", {"title": "planted", "body": "x"}),
        ):
            refused = await mallory.request.post(
                web.web_url + action, form={"csrf_token": token, **form}, max_redirects=0
            )
            assert refused.status == 404, action
        for words in ("zebra", "launch", "hidden"):
            await mallory.goto(f"{web.web_url}/snippets/search?q={words}")
            await expect(mallory.get_by_role("status")).to_contain_text("Nothing matches")
        await mallory.goto(f"{web.web_url}/snippets")
        await expect(mallory.locator("main")).not_to_contain_text("Launch codes")

        # Bob is a member: he reads it, but only its creator or an owner may change it.
        await bob.goto(f"{web.web_url}/snippets/{snippet_id}")
        await expect(bob.get_by_role("heading", name="Launch codes")).to_be_visible()
        tabs = bob.get_by_role("navigation", name="This snippet")
        await expect(tabs.get_by_role("link", name="Edit")).to_have_count(0)
        answer = await bob.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        assert answer is not None and answer.status == 403
        await expect(bob.get_by_role("alert")).to_contain_text("Only its creator or an owner")
        await bob.goto(f"{web.web_url}/snippets/{snippet_id}/files")
        await expect(bob.get_by_role("button", name="Add file")).to_have_count(0)

        # Forms without the CSRF token change nothing, even for its creator.
        refused = await ada.request.post(
            f"{web.web_url}/snippets/{snippet_id}/share", form={"visibility": "public"}, max_redirects=0
        )
        assert refused.status == 403
        await ada.goto(f"{web.web_url}/snippets/{snippet_id}")
        await expect(ada.get_by_role("complementary", name="About this snippet")).to_contain_text(
            "Members of its workspace"
        )

        # Shared publicly, Mallory can read it (not change it) and find it.
        await ada.goto(f"{web.web_url}/snippets/{snippet_id}/share")
        await ada.get_by_label("public").check()
        await ada.get_by_role("button", name="Change visibility").click()
        await expect(ada.get_by_role("status")).to_contain_text("Visibility changed")
        answer = await mallory.goto(f"{web.web_url}/snippets/{snippet_id}")
        assert answer is not None and answer.status == 200
        await expect(mallory.get_by_role("complementary", name="About this snippet")).to_contain_text(
            "another workspace"
        )
        await expect(
            mallory.get_by_role("navigation", name="This snippet").get_by_role("link", name="Edit")
        ).to_have_count(0)
        answer = await mallory.goto(f"{web.web_url}/snippets/{snippet_id}/edit")
        assert answer is not None and answer.status == 403
        await mallory.goto(f"{web.web_url}/snippets/search?q=zebra")
        await expect(mallory.get_by_role("list", name="Results, best match first")).to_contain_text("Launch codes")

        # Deleting asks first, then it is gone for everyone.
        await ada.goto(f"{web.web_url}/snippets/{snippet_id}/delete")
        await ada.get_by_role("button", name="Delete “Launch codes”").click()
        await expect(ada.get_by_role("status")).to_contain_text("Snippet deleted")
        answer = await mallory.goto(f"{web.web_url}/snippets/{snippet_id}")
        assert answer is not None and answer.status == 404
    finally:
        for page in (ada, bob, mallory):
            await _closed(page)


async def test_lists_page_with_a_cursor_and_keep_their_filters(web: WebStack, chromium: Browser) -> None:
    page = await _page(chromium, web, *BOB[:2])
    try:
        slug = await _workspace(page, web, "Many Snippets")
        await page.goto(f"{web.web_url}/workspaces/{slug}/snippets/new")
        token = await page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        for number in range(PAGE_SIZE + 2):
            created = await page.request.post(
                f"{web.web_url}/workspaces/{slug}/snippets/new",
                form={"csrf_token": token, "title": f"Note {number:02}", "body": "text", "tags": "bulk"},
                max_redirects=0,
            )
            assert created.status == 303, await created.text()
        await page.goto(f"{web.web_url}/workspaces/{slug}/snippets?tag=bulk")
        listed = page.get_by_role("list", name="Snippets, most recently changed first")
        await expect(listed.get_by_role("heading")).to_have_count(PAGE_SIZE)
        await expect(listed.get_by_role("heading").first).to_have_text(f"Note {PAGE_SIZE + 1:02}")
        await page.get_by_role("link", name="Next page").click()
        await expect(listed.get_by_role("heading")).to_have_text(["Note 01", "Note 00"])
        await expect(page.get_by_label("Tag", exact=True)).to_have_value("bulk")
        await expect(page.get_by_role("link", name="Next page")).to_have_count(0)
        await page.get_by_role("link", name="First page").click()
        await expect(listed.get_by_role("heading")).to_have_count(PAGE_SIZE)
        # A cursor made for other filters is refused, not silently applied.
        await page.goto(f"{web.web_url}/workspaces/{slug}/snippets?tag=bulk")
        next_url = await page.get_by_role("link", name="Next page").get_attribute("href") or ""
        cursor = next_url.split("cursor=", 1)[1]
        answer = await page.goto(f"{web.web_url}/workspaces/{slug}/snippets?visibility=public&cursor={cursor}")
        assert answer is not None and answer.status == 400

        # Search pages the same way, best match first.
        await page.goto(f"{web.web_url}/snippets/search?q=text&workspace={slug}")
        results = page.get_by_role("list", name="Results, best match first")
        seen: list[str] = []
        while True:
            titles = await results.get_by_role("heading").all_inner_texts()
            assert 0 < len(titles) <= SEARCH_PAGE_SIZE
            seen += titles
            more = page.get_by_role("link", name="More results")
            if not await more.count():
                break
            await more.click()
        assert sorted(seen) == [f"Note {n:02}" for n in range(PAGE_SIZE + 2)]

        # Forged numbers and cursors are refused with a page, never a 500.
        await page.goto(f"{web.web_url}/snippets/search?q=text")
        snippet_path = (await results.get_by_role("link").first.get_attribute("href") or "").removeprefix("/library")
        for path in (
            f"{snippet_path}/versions/99999999999",
            f"{snippet_path}/versions/1/diff/4294967296",
            f"{snippet_path}/versions?before=99999999999",
            f"{snippet_path}/versions/compare?from=1&to=x",
            f"/workspaces/{slug}/snippets?cursor=W1tbW1tbW1tbXV1dXV1dXV1d",
            f"/workspaces/{slug}/snippets?cursor=not-a-cursor",
            "/snippets/search?q=text&cursor=eyJ2IjoxLCJrIjoid2ViLXNlYXJjaCIsInAiOlsxLDJdLCJxIjoieCJ9",
            f"/workspaces/{slug}/snippets?visibility=everyone",
        ):
            answer = await page.goto(web.web_url + path)
            assert answer is not None and answer.status == 400, path
            await expect(page.get_by_role("alert")).to_be_visible()
    finally:
        await _closed(page)


def test_the_readme_shows_the_snippet_pages_at_both_widths_as_the_tests_took_them() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in SCREENSHOTS:
        for label, size in VIEWPORTS.items():
            image = DOCS_IMAGES / f"{name}-{label}.png"
            assert f"docs/images/{image.name}" in readme
            header = image.read_bytes()[:24]
            assert header[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = struct.unpack(">II", header[16:24])
            assert width == size["width"] and height >= size["height"], (image.name, width, height)


async def test_a_save_in_the_browser_reaches_the_same_users_mcp_clients(web: WebStack, chromium: Browser) -> None:
    """The pages write the library the tools read, and announce it as a tool call would."""
    page = await _page(chromium, web, web.email, web.password)
    try:
        slug = await _workspace(page, web, "Heard Elsewhere")
        async with oauth_http_client(web.stack, SignIn(web.stack)) as http:
            transport = streamable_http_client(web.stack.resource, http_client=http)  # type: ignore[arg-type]
            async with Client(transport, mode="2026-07-28") as client:
                async with client.listen(prompts_list_changed=True, resources_list_changed=True) as events:
                    snippet_id = await _new_snippet(page, web, slug, "Heard in the assistant", "Said in the browser.")
                    with anyio.fail_after(10):
                        event = await events.__anext__()
                    assert isinstance(event, PromptsListChanged | ResourcesListChanged)
                got = await client.call_tool("get_snippet", {"id": snippet_id})
                assert not got.is_error, got.content
                assert got.structured_content is not None
                assert got.structured_content["body"] == "Said in the browser."
                assert got.structured_content["title"] == "Heard in the assistant"
    finally:
        await _closed(page)
