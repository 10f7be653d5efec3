"""A snippet's history in the browser: its versions, one old version, a diff of two, and restore.

Restoring works as the ``restore_snippet_version`` tool does: the old content (title,
description, body, tags, variables) comes back as a new version, visibility and slug stay
as they are now, and the save is based on the version the page showed (``expected_version``),
so a restore never silently overwrites a change made meanwhile.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcpserver.errors import Conflict
from mcpserver.repository import snippets as snippet_repo
from mcpserver.repository import versions
from mcpserver.tools.snippets import announce, audience_of
from mcpserver.web.csrf import checked_form
from mcpserver.web.diffs import compare, describe_variables, document_of
from mcpserver.web.markdown import render_markdown
from mcpserver.web.snippet_pages import READ, WRITE, Page, page, redirect, snippet_id_of, url, version_number

PAGE_SIZE = 20


def routes() -> list[BaseRoute]:
    return [
        Route("/snippets/{snippet_id:uuid}/versions", history, methods=["GET"]),
        Route("/snippets/{snippet_id:uuid}/versions/compare", compare_versions, methods=["GET"]),
        Route("/snippets/{snippet_id:uuid}/versions/{version:int}", version_page, methods=["GET"]),
        Route("/snippets/{snippet_id:uuid}/versions/{a:int}/diff/{b:int}", diff_page, methods=["GET"]),
        Route("/snippets/{snippet_id:uuid}/restore", restore, methods=["POST"]),
    ]


def _before(p: Page) -> int | None:
    raw = p.request.query_params.get("before", "")
    return version_number(raw, "before") if raw else None


@page
async def history(p: Page) -> Response:
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    before = _before(p)
    async with p.transaction() as session:
        snippet = await snippet_repo.get(session, p.user.id, snippet_id)
        items, more = await versions.list_versions(session, snippet, before=before, limit=PAGE_SIZE)
        workspace = await p.workspace_of(session, snippet.workspace_id)
    return p.render(
        "snippets/versions.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "versions": items,
            "next_url": url(p.request, f"/snippets/{snippet_id}/versions", before=more) if more else None,
            "paged": before is not None,
            "all_numbers": list(range(snippet.version, 0, -1)),
        },
    )


@page
async def compare_versions(p: Page) -> Response:
    """The compare form's GET: on to the diff's own address."""
    snippet_id = snippet_id_of(p.request)
    query = p.request.query_params
    a, b = version_number(query.get("from"), "from"), version_number(query.get("to"), "to")
    return redirect(p.request, f"/snippets/{snippet_id}/versions/{a}/diff/{b}")


@page
async def version_page(p: Page) -> Response:
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    number = version_number(p.request.path_params["version"])
    async with p.transaction() as session:
        snippet = await snippet_repo.get(session, p.user.id, snippet_id)
        old = await versions.get_version(session, snippet, number)
        workspace = await p.workspace_of(session, snippet.workspace_id)
    return p.render(
        "snippets/version.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "old": old,
            "body_html": render_markdown(old.body),
            "variables_text": describe_variables(old.variables),
        },
    )


@page
async def diff_page(p: Page) -> Response:
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    a = version_number(p.request.path_params["a"], "from")
    b = version_number(p.request.path_params["b"], "to")
    async with p.transaction() as session:
        snippet = await snippet_repo.get(session, p.user.id, snippet_id)
        before = await versions.get_version(session, snippet, a)
        after = await versions.get_version(session, snippet, b)
        workspace = await p.workspace_of(session, snippet.workspace_id)
    return p.render(
        "snippets/diff.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "a": before,
            "b": after,
            "diff": compare(document_of(before), document_of(after)),
            "all_numbers": list(range(snippet.version, 0, -1)),
        },
    )


@page
async def restore(p: Page) -> Response:
    p.require(WRITE)
    snippet_id = snippet_id_of(p.request)
    form = await checked_form(p.request)
    number = version_number(form.get("version"))
    expected = (
        version_number(form.get("expected_version"), "expected_version") if form.get("expected_version") else None
    )
    async with p.transaction() as session:
        snippet = await snippet_repo.get(session, p.user.id, snippet_id)
        try:
            view = await versions.restore(
                session, p.caller, snippet, number, expected_version=expected, message=f"restored version {number}"
            )
        except Conflict:
            raise Conflict(
                f"version {snippet.version} was saved after the page you restored from was shown; "
                "look at the history again and restore from there"
            ) from None
        audience = await audience_of(p.app, session, view)
    await announce(p.app, audience, view.id, updated=True)
    return redirect(p.request, f"/snippets/{snippet_id}", notice="restored")
