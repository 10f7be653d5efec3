"""The web library while its database is down: a 503 page with ``Retry-After``, never a 500.

The test's own Postgres cluster (``tests.soak.cluster``) is stopped in immediate mode while
both servers run and a person is signed in to the library in a real headless Chromium:
page views and forms answer a readable 503 page with ``Retry-After`` and the security
headers; once the cluster is back the same session works again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import APIResponse, Browser, Response, expect

from tests.conftest import Database
from tests.e2e.web_stack import WebStack, sign_in, web_library_stack
from tests.soak.cluster import Cluster, cluster_database, postgres_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Database]]:
    with postgres_cluster() as pg:
        yield pg, cluster_database(pg, tmp_path_factory.mktemp("web-outage"))


@pytest.fixture(scope="module")
async def web(cluster: tuple[Cluster, Database]) -> AsyncIterator[WebStack]:
    _, database = cluster
    async with web_library_stack(database, db_pool_timeout="2", db_statement_timeout="2") as stack:
        yield stack


def _assert_unavailable(answer: Response | APIResponse | None, text: str) -> None:
    assert answer is not None
    assert answer.status == 503, text[-2000:]
    assert answer.headers["retry-after"].isdigit()
    assert answer.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert "Traceback" not in text and "database is not answering" in text


async def test_pages_answer_503_while_postgres_is_down_and_work_again_after(
    web: WebStack, cluster: tuple[Cluster, Database], chromium: Browser
) -> None:
    pg, _ = cluster
    profile = await chromium.new_context()
    profile.set_default_timeout(30_000)
    page = await profile.new_page()
    try:
        await sign_in(page, web, web.email, web.password)
        token = await page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
        pg.stop("immediate")
        try:
            answer = await page.goto(web.web_url + "/workspaces")
            _assert_unavailable(answer, await page.content())
            await expect(page.get_by_role("heading", level=1)).to_have_text("Temporarily unavailable")
            posted = await page.request.post(
                web.web_url + "/workspaces", form={"csrf_token": token, "name": "During"}, max_redirects=0
            )
            _assert_unavailable(posted, await posted.text())
            snippets = await page.request.get(web.web_url + "/snippets")
            _assert_unavailable(snippets, await snippets.text())
        finally:
            pg.start()
        deadline = time.monotonic() + 60
        while True:
            answer = await page.goto(web.web_url + "/workspaces")
            assert answer is not None
            if answer.status == 200 or time.monotonic() > deadline:
                break
            assert answer.status == 503
            await asyncio.sleep(0.5)
        assert answer.status == 200
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # the same session
    finally:
        await profile.close()
