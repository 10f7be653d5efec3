"""The web library's sign-in, workspaces, members and invitations, in a real headless Chromium.

Both servers run as real processes on SQLite and on Postgres (RLS, separate roles); people
sign in through the authorization server's own login and consent pages. What is checked:
the OAuth round trip ends in a server-side session with the right cookie; a workspace is
created, someone is invited and sees it; a member of another workspace sees nothing of it
(404 for its pages, the same as a workspace that does not exist); forms without the CSRF
token change nothing; every page sends the security headers; signing out and disabling the
user end the session.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import Database
from tests.e2e.screenshots import DOCS_IMAGES, VIEWPORTS, Screenshots
from tests.e2e.stacks import eventually, sqlite_database
from tests.e2e.web_stack import WebStack, module_database, sign_in, web_library_stack
from tests.processes import ROOT, run_cli

ERIN = ("erin@example.com", "erin's long password", "Erin")
BOB = ("bob@example.com", "bob's long password", "Bob")
MALLORY = ("mallory@example.com", "mallory's long password", "Mallory")
DAVE = ("dave@example.com", "dave's long password", "Dave")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def web_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    yield from module_database(request.param, tmp_path_factory, "web-access")


@pytest.fixture(scope="module")
async def web(web_database: Database) -> AsyncIterator[WebStack]:
    async with web_library_stack(web_database) as stack:
        for email, password, name in (BOB, MALLORY, DAVE):
            stack.add_user(email, password, name)
        yield stack


async def _person(browser: Browser) -> BrowserContext:
    profile = await browser.new_context()
    profile.set_default_timeout(15_000)
    return profile


def _expect_security_headers(headers: dict[str, str], issuer: str, *, html: bool = True) -> None:
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp and "base-uri 'none'" in csp
    assert "http" not in csp.replace(issuer, "")  # no source but ourselves (and the issuer, for sign-in)
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    if html:
        assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers  # plain-http loopback here


async def _create_workspace(page: Page, web: WebStack, name: str) -> str:
    await page.goto(web.web_url + "/workspaces")
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Create workspace").click()
    await page.wait_for_url(re.compile(r"/library/workspaces/[a-z0-9-]+\?done=created"))
    await expect(page.get_by_role("status")).to_contain_text("Workspace created")
    return page.url.split("/workspaces/", 1)[1].split("?", 1)[0]


async def test_sign_in_create_invite_and_only_members_see_the_workspace(
    web: WebStack, chromium: Browser, screenshots: Screenshots, web_database: Database
) -> None:
    ada = await _person(chromium)
    bob = await _person(chromium)
    mallory = await _person(chromium)
    try:
        page = await ada.new_page()
        # Signed out: the library sends the browser to our authorization server's login page.
        first = await page.goto(web.web_url + "/workspaces")
        assert first is not None and page.url.startswith(web.issuer + "/login")
        await sign_in(page, web, web.email, web.password)
        assert page.url == web.web_url + "/workspaces"
        await expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()

        cookies = {c["name"]: c for c in await ada.cookies()}
        session = cookies["skills_library"]
        assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"
        assert "skills_library_signin" not in cookies  # the pending sign-in is gone

        slug = await _create_workspace(page, web, "Team Notes")
        assert slug == "team-notes"
        # Invite Bob (has an account: joins at once) and Carol (no account yet: pending).
        await page.get_by_label("Email address").fill(BOB[0])
        await page.get_by_role("button", name="Invite").click()
        await expect(page.get_by_role("status")).to_contain_text("Invitation recorded")
        await page.get_by_label("Email address").fill("carol@example.com")
        await page.get_by_label("Role", exact=True).select_option("owner")
        await page.get_by_role("button", name="Invite").click()
        await expect(page.get_by_role("list", name="Pending invitations")).to_contain_text("carol@example.com as owner")
        members = page.locator("#members tbody tr")
        await expect(members).to_have_count(2)
        await expect(members.filter(has_text="Bob")).to_contain_text("member")
        if web_database.backend == "sqlite":
            await screenshots.capture(page, "web-workspace")

        # Bob signs in in his own browser and finds the workspace.
        bob_page = await bob.new_page()
        await sign_in(bob_page, web, BOB[0], BOB[1])
        await expect(bob_page.get_by_role("link", name="Team Notes")).to_be_visible()
        if web_database.backend == "sqlite":
            await screenshots.capture(bob_page, "web-workspaces")
        await bob_page.get_by_role("link", name="Team Notes").click()
        await expect(bob_page.get_by_role("heading", name="Team Notes")).to_be_visible()
        await expect(bob_page.get_by_role("button", name="Invite")).to_have_count(0)  # members do not invite
        await expect(bob_page.locator("#members")).to_contain_text("Ada")

        # Ada makes Bob an owner; then removes Carol's invitation.
        row = page.locator("#members tbody tr", has_text="Bob")
        await row.get_by_role("combobox").select_option("owner")
        await row.get_by_role("button", name="Change role").click()
        await expect(page.get_by_role("status")).to_contain_text("Role changed")
        await expect(page.locator("#members tbody tr", has_text="Bob")).to_contain_text("owner")
        await page.get_by_role("button", name="Cancel the invitation of carol@example.com").click()
        await expect(page.get_by_role("status")).to_contain_text("Invitation cancelled")
        await expect(page.get_by_role("list", name="Pending invitations")).to_have_count(0)

        # Mallory, in a workspace of her own, sees nothing of Team Notes.
        mallory_page = await mallory.new_page()
        await sign_in(mallory_page, web, MALLORY[0], MALLORY[1])
        await _create_workspace(mallory_page, web, "Mallory's corner")
        await mallory_page.goto(web.web_url + "/workspaces")
        await expect(mallory_page.locator("main")).not_to_contain_text("Team Notes")
        for path in (f"/workspaces/{slug}", "/workspaces/no-such-workspace"):
            answer = await mallory_page.goto(web.web_url + path)
            assert answer is not None and answer.status == 404
            await expect(mallory_page.get_by_role("heading", name="Not found")).to_be_visible()
        token = await mallory_page.locator("input[name=csrf_token]").first.get_attribute("value")
        for action, form in (
            (f"/workspaces/{slug}/invitations", {"email": MALLORY[0], "role": "owner"}),
            (f"/workspaces/{slug}/leave", {}),
        ):
            refused = await mallory_page.request.post(
                web.web_url + action, form={"csrf_token": token or "", **form}, max_redirects=0
            )
            assert refused.status == 404, action
        await bob_page.reload()
        await expect(bob_page.locator("#members tbody tr")).to_have_count(2)  # Mallory did not get in

        # Signing out ends the session: the old cookie no longer works.
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="You are signed out of the library")).to_be_visible()
        assert "skills_library" not in {c["name"] for c in await ada.cookies()}
        with httpx.Client(cookies={"skills_library": session["value"]}) as client:
            after = client.get(web.web_url + "/workspaces")
        assert after.status_code == 303 and after.headers["location"].startswith("/library/signin")
    finally:
        for profile in (ada, bob, mallory):
            await profile.close()


async def test_forms_without_the_csrf_token_change_nothing(web: WebStack, context: BrowserContext) -> None:
    page = await context.new_page()
    await sign_in(page, web, BOB[0], BOB[1])
    for form in ({"name": "Forged"}, {"name": "Forged", "csrf_token": "not-the-token"}):
        refused = await page.request.post(web.web_url + "/workspaces", form=form, max_redirects=0)
        assert refused.status == 403
        assert "did not come from this site" in await refused.text()
        _expect_security_headers(refused.headers, web.issuer)
    signout = await page.request.post(web.web_url + "/signout", form={}, max_redirects=0)
    assert signout.status == 403
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    huge = await page.request.post(
        web.web_url + "/workspaces", form={"csrf_token": token or "", "name": "x" * (5 * 1024 * 1024)}, max_redirects=0
    )
    assert huge.status == 413
    await page.goto(web.web_url + "/workspaces")
    await expect(page.locator("main")).not_to_contain_text("Forged")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # still signed in


async def test_pages_send_the_security_headers_and_load_nothing_from_elsewhere(
    web: WebStack, context: BrowserContext
) -> None:
    page = await context.new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    await sign_in(page, web, BOB[0], BOB[1])
    for path, status in (("/workspaces", 200), ("/workspaces/nope", 404)):
        answer = await page.goto(web.web_url + path)
        assert answer is not None and answer.status == status
        _expect_security_headers(await answer.all_headers(), web.issuer)
        assert f"form-action 'self' {web.issuer};" in (await answer.all_headers())["content-security-policy"]
    css = await page.request.get(web.web_url + "/static/library.css")
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    _expect_security_headers(css.headers, web.issuer, html=False)
    library_origin = web.web_url.removesuffix("/library")
    assert all(url.startswith((library_origin, web.issuer)) for url in requested), requested
    home = await page.goto(library_origin + "/library/")
    assert home is not None and page.url == web.web_url + "/workspaces"


async def test_keyboard_reaches_the_skip_link_first_and_sees_focus(web: WebStack, context: BrowserContext) -> None:
    page = await context.new_page()
    await sign_in(page, web, BOB[0], BOB[1])
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    await expect(focused).to_have_text("Skip to content")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


async def test_disabling_the_user_ends_the_web_session(web: WebStack, context: BrowserContext) -> None:
    page = await context.new_page()
    await sign_in(page, web, DAVE[0], DAVE[1])
    cookie = {c["name"]: c["value"] for c in await context.cookies()}["skills_library"]
    disabled = run_cli(["authserver", "users", "disable", DAVE[0]], web.env)
    assert disabled.returncode == 0, disabled.stderr

    async def refused() -> bool | None:
        async with httpx.AsyncClient(cookies={"skills_library": cookie}) as client:
            answer = await client.get(web.web_url + "/workspaces")
        return True if answer.status_code == 303 else None

    assert await eventually(refused)
    # The session row is gone: the cookie stays refused (not merely redirected once).
    async with httpx.AsyncClient(cookies={"skills_library": cookie}) as client:
        again = await client.get(web.web_url + "/workspaces")
    assert again.status_code == 303 and again.headers["location"].startswith("/library/signin")


async def test_a_tampered_or_replayed_callback_starts_no_session(web: WebStack, context: BrowserContext) -> None:
    page = await context.new_page()
    answer = await page.goto(web.web_url + f"/auth/callback?code=forged&state=forged&iss={web.issuer}")
    assert answer is not None and answer.status == 400
    await expect(page.get_by_role("alert")).to_contain_text("another browser")
    assert "skills_library" not in {c["name"] for c in await context.cookies()}


async def test_declining_consent_starts_no_session(web: WebStack, context: BrowserContext) -> None:
    web.add_user("erin@example.com", "erin's long password", "Erin")
    page = await context.new_page()
    await sign_in(page, web, "erin@example.com", "erin's long password", decision="deny")
    assert page.url.startswith(web.web_url + "/auth/callback?")
    await expect(page.get_by_role("alert")).to_contain_text("You did not allow")
    assert "skills_library" not in {c["name"] for c in await context.cookies()}


@pytest.fixture(scope="module")
def disabled_database(tmp_path_factory: pytest.TempPathFactory) -> Database:
    return sqlite_database(tmp_path_factory, "web-disabled")


async def test_without_a_client_secret_the_library_says_how_to_enable_it(disabled_database: Database) -> None:
    from tests.stack import running_stack

    with running_stack(disabled_database) as stack:
        origin = stack.resource.removesuffix("/mcp")
        async with httpx.AsyncClient() as client:
            answer = await client.get(origin + "/library/workspaces")
            mcp_health = await client.get(origin + "/healthz")
    assert answer.status_code == 503
    assert "SKILLS_WEB_CLIENT_SECRET" in answer.text and "web_client_secret" in answer.text
    _expect_security_headers({k.lower(): v for k, v in answer.headers.items()}, stack.issuer)
    assert mcp_health.status_code == 200


def test_the_readme_shows_the_workspace_pages() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("web-workspaces", "web-workspace"):
        for label in VIEWPORTS:
            image = DOCS_IMAGES / f"{name}-{label}.png"
            assert image.is_file(), image
            assert f"docs/images/{image.name}" in readme


async def test_someone_invited_before_having_an_account_finds_the_workspace_once_they_have_one(
    web: WebStack, chromium: Browser
) -> None:
    owner, newcomer = await _person(chromium), await _person(chromium)
    try:
        page = await owner.new_page()
        await sign_in(page, web, MALLORY[0], MALLORY[1])
        slug = await _create_workspace(page, web, "Early invitations")
        await page.get_by_label("Email address").fill("frank@example.com")
        await page.get_by_role("button", name="Invite").click()
        await expect(page.get_by_role("list", name="Pending invitations")).to_contain_text("frank@example.com")

        web.add_user("frank@example.com", "frank's long password", "Frank")
        frank = await newcomer.new_page()
        await sign_in(frank, web, "frank@example.com", "frank's long password")
        await frank.get_by_role("link", name="Early invitations").click()
        await expect(frank.locator("#members tbody tr", has_text="Frank")).to_contain_text("member")
        await page.goto(web.web_url + f"/workspaces/{slug}")
        await expect(page.get_by_role("list", name="Pending invitations")).to_have_count(0)  # joined
    finally:
        await owner.close()
        await newcomer.close()
