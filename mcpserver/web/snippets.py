"""The snippet pages: list, search, view, create and edit, share, delete.

URLs under the library's mount: ``/workspaces/<slug>/snippets`` (one workspace, with
filters) and ``/snippets`` (everything the user can read), ``/workspaces/<slug>/snippets/new``,
``/snippets/search?q=``, ``/snippets/<id>`` (+ ``/edit``, ``/share``, ``/delete``). History,
render preview and supporting files live in :mod:`mcpserver.web.snippet_history`,
:mod:`mcpserver.web.snippet_render` and :mod:`mcpserver.web.snippet_files`; every route is
collected by :func:`routes`. Each page calls the repository the way the matching tool does
and, after a write, tells the users whose MCP lists changed (``mcpserver.changes``).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcpserver import cursors
from mcpserver.errors import Conflict, InvalidArgument
from mcpserver.repository import idempotency, search, skill_files
from mcpserver.repository import snippets as repo
from mcpserver.repository.workspaces import WorkspaceView
from mcpserver.tools import fields
from mcpserver.tools.snippets import announce, audience_of, decode_position, encode_position
from mcpserver.web import snippet_files, snippet_history, snippet_render
from mcpserver.web.csrf import checked_form
from mcpserver.web.excerpts import highlight_excerpt, highlight_words, query_words
from mcpserver.web.markdown import render_markdown
from mcpserver.web.snippet_forms import VISIBILITIES, SnippetForm, bad_placeholders
from mcpserver.web.snippet_pages import READ, WRITE, Page, page, redirect, snippet_id_of, url
from shared.skill_format import skill_name

PAGE_SIZE = 20
SEARCH_PAGE_SIZE = 10
MAX_QUERY = 500
SEARCH_CURSOR = "web-search"
VISIBILITY_TEXT = {
    "private": "Only its creator",
    "workspace": "Members of its workspace",
    "public": "Every signed-in user of this library",
}


def routes() -> list[BaseRoute]:
    """Every snippet page (the app mounts them next to the workspace pages)."""
    return [
        Route("/snippets", list_all, methods=["GET"]),
        Route("/snippets/search", search_page, methods=["GET"]),
        Route("/workspaces/{slug}/snippets", list_workspace, methods=["GET"]),
        Route("/workspaces/{slug}/snippets/new", new_snippet, methods=["GET", "POST"]),
        Route("/snippets/{snippet_id:uuid}", view, methods=["GET"]),
        Route("/snippets/{snippet_id:uuid}/edit", edit, methods=["GET", "POST"]),
        Route("/snippets/{snippet_id:uuid}/share", share, methods=["GET", "POST"]),
        Route("/snippets/{snippet_id:uuid}/delete", delete, methods=["GET", "POST"]),
        *snippet_history.routes(),
        *snippet_render.routes(),
        *snippet_files.routes(),
    ]


# Lists ----------------------------------------------------------------------------------


def _list_filters(p: Page, workspace: WorkspaceView | None) -> tuple[repo.Filters, dict[str, Any]]:
    query = p.request.query_params
    tags = tuple(fields.tags([query["tag"]])) if query.get("tag", "").strip() else ()
    visibility = query.get("visibility") or None
    if visibility is not None and visibility not in VISIBILITIES:
        raise InvalidArgument("visibility", "private, workspace or public")
    mine = query.get("mine") == "1"
    chosen = {"tag": tags[0] if tags else "", "visibility": visibility or "", "mine": mine}
    return repo.Filters(workspace.id if workspace else None, tags, visibility, mine), chosen


async def _list(p: Page, workspace_slug: str | None) -> Response:
    p.require(READ)
    async with p.transaction() as session:
        mine_workspaces = await p.workspaces(session)
        workspace = await p.workspace_by_slug(session, workspace_slug) if workspace_slug else None
        filters, chosen = _list_filters(p, workspace)
        cursor = p.request.query_params.get("cursor")
        after = decode_position(cursor, filters) if cursor else None
        items, position = await repo.list_visible(session, p.user.id, filters, after=after, limit=PAGE_SIZE)
    base = f"/workspaces/{workspace.slug}/snippets" if workspace else "/snippets"
    next_url = (
        url(
            p.request,
            base,
            **{**chosen, "mine": "1" if chosen["mine"] else ""},
            cursor=encode_position(position, filters),
        )
        if position
        else None
    )
    return p.render(
        "snippets/list.html",
        {
            "workspace": workspace,
            "items": [_summary(p, item, mine_workspaces) for item in items],
            "chosen": chosen,
            "visibilities": VISIBILITIES,
            "base": base,
            "next_url": next_url,
            "paged": cursor is not None,
        },
    )


@page
async def list_all(p: Page) -> Response:
    return await _list(p, None)


@page
async def list_workspace(p: Page) -> Response:
    return await _list(p, p.request.path_params["slug"])


def _summary(p: Page, item: repo.SnippetSummary, mine_workspaces: list[WorkspaceView]) -> dict[str, Any]:
    names = {w.id: w for w in mine_workspaces}
    workspace = names.get(item.workspace_id)
    return {
        "snippet": item,
        "href": url(p.request, f"/snippets/{item.id}"),
        "workspace": workspace,
        "mine": item.created_by == p.user.id,
    }


# Search ---------------------------------------------------------------------------------


def _search_fingerprint(text: str, filters: repo.Filters) -> list[Any]:
    return [text, str(filters.workspace_id), sorted(filters.tags)]


@page
async def search_page(p: Page) -> Response:
    """Ranked full-text search (the search tool's query language), matches marked in each excerpt."""
    p.require(READ)
    query = p.request.query_params
    text = " ".join(query.get("q", "").split())
    if len(text) > MAX_QUERY:
        raise InvalidArgument("q", f"at most {MAX_QUERY} characters")
    async with p.transaction() as session:
        mine_workspaces = await p.workspaces(session)
        workspace = await p.workspace_by_slug(session, query["workspace"]) if query.get("workspace") else None
        tags = tuple(fields.tags([query["tag"]])) if query.get("tag", "").strip() else ()
        filters = repo.Filters(workspace_id=workspace.id if workspace else None, tags=tags)
        hits: list[search.Hit] = []
        more: search.After | None = None
        recent: list[repo.SnippetSummary] = []
        cursor = query.get("cursor")
        if text:
            after = _decode_search(cursor, text, filters) if cursor else None
            hits, more = await search.search(session, p.user.id, text, filters, after=after, limit=SEARCH_PAGE_SIZE)
        else:
            recent, _ = await repo.list_visible(session, p.user.id, filters, after=None, limit=PAGE_SIZE)
    words = query_words(text)
    results = [
        {
            **_summary(p, hit.snippet, mine_workspaces),
            "title": highlight_words(hit.snippet.title, words),
            "excerpt": highlight_excerpt(hit.excerpt),
        }
        for hit in hits
    ]
    next_url = None
    if more is not None:
        token = cursors.encode(SEARCH_CURSOR, [more.rank, str(more.id)], _search_fingerprint(text, filters))
        next_url = url(
            p.request,
            "/snippets/search",
            q=text,
            workspace=workspace.slug if workspace else "",
            tag=tags[0] if tags else "",
            cursor=token,
        )
    return p.render(
        "snippets/search.html",
        {
            "q": text,
            "workspace": workspace,
            "workspaces": mine_workspaces,
            "tag": tags[0] if tags else "",
            "results": results,
            "recent": [_summary(p, item, mine_workspaces) for item in recent],
            "next_url": next_url,
            "paged": cursor is not None,
        },
    )


def _decode_search(cursor: str, text: str, filters: repo.Filters) -> search.After:
    try:
        _, (rank, last_id) = cursors.decode(cursor, (SEARCH_CURSOR,), _search_fingerprint(text, filters))
        return search.After(float(rank), uuid.UUID(last_id))
    except (cursors.InvalidCursor, ValueError, TypeError, AttributeError):
        raise InvalidArgument("cursor", "this page link is not valid for this search: start the search again") from None


# One snippet ----------------------------------------------------------------------------


@page
async def view(p: Page) -> Response:
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    async with p.transaction() as session:
        snippet = await repo.get(session, p.user.id, snippet_id)
        workspace = await p.workspace_of(session, snippet.workspace_id)
        files = (await skill_files.files_of(session, [snippet.id]))[snippet.id]
        label = await skill_files.workspace_label(session, p.user.id, snippet.workspace_id)
    return p.render(
        "snippets/view.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "body_html": render_markdown(snippet.body),
            "files": files,
            "skill_uri": f"skill://{label}/{skill_name(snippet.slug)}/SKILL.md",
            "visibility_text": VISIBILITY_TEXT[snippet.visibility],
            "mine": snippet.created_by == p.user.id,
        },
    )


def _form_page(
    p: Page,
    form: SnippetForm,
    *,
    workspace: WorkspaceView | None,
    snippet: repo.SnippetView | None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    conflict: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    action = (
        f"/snippets/{snippet.id}/edit" if snippet else f"/workspaces/{workspace.slug if workspace else ''}/snippets/new"
    )
    return p.render(
        "snippets/form.html",
        {
            "form": form,
            "snippet": snippet,
            "workspace": workspace,
            "action": url(p.request, action),
            "error": error,
            "errors": errors or {},
            "conflict": conflict,
            "bad_placeholders": bad_placeholders(form.body),
            "visibilities": VISIBILITIES,
            "visibility_text": VISIBILITY_TEXT,
        },
        status_code=status_code,
    )


def _refused(error: InvalidArgument | Conflict) -> tuple[str, dict[str, str], int]:
    """A refused save as the form shows it: a summary, the field it is about, the status."""
    message = str(error).partition(": ")[2] or str(error)
    message = message[:1].upper() + message[1:]
    if isinstance(error, InvalidArgument):
        return f"Not saved: {error.field}: {message}", {error.field: message}, 400
    return f"Not saved: {message}", {"slug": message} if "slug" in message else {}, 409


@page
async def new_snippet(p: Page) -> Response:
    p.require(WRITE)
    slug = p.request.path_params["slug"]
    if p.request.method == "GET":
        async with p.transaction() as session:
            workspace = await p.workspace_by_slug(session, slug)
        return _form_page(p, SnippetForm(idempotency_key=secrets.token_urlsafe(16)), workspace=workspace, snippet=None)
    submitted = await checked_form(p.request)
    form = SnippetForm.read(submitted)
    async with p.transaction() as session:
        workspace = await p.workspace_by_slug(session, slug)
    if submitted.get("action") == "refresh":
        return _form_page(p, form, workspace=workspace, snippet=None)
    try:
        values = form.checked(p.app.settings)
        async with p.transaction() as session:
            done = None
            key = form.idempotency_key.strip()
            if key:  # a second submission of the same form (a double click, a retry) saves once
                arguments = {"workspace_id": workspace.id, **values.arguments()}
                fingerprint = idempotency.fingerprint(arguments)
                ttl = p.app.settings.idempotency_key_seconds
                done = await idempotency.claim(session, p.caller, key, fingerprint, ttl)
            if done is not None:
                return redirect(p.request, f"/snippets/{done.snippet_id}")
            created = await repo.create(
                session,
                p.caller,
                workspace.id,
                title=values.title,
                body=values.body,
                description=values.description,
                tags=values.tags,
                visibility=values.visibility,
                slug=values.slug,
                message=values.message or "created",
                variables=values.variables,
            )
            if key:
                await idempotency.remember(session, p.caller, key, idempotency.Done(created.id, created.version))
            audience = await audience_of(p.app, session, created)
    except (InvalidArgument, Conflict) as error:
        message, errors, status = _refused(error)
        return _form_page(p, form, workspace=workspace, snippet=None, error=message, errors=errors, status_code=status)
    await announce(p.app, audience, created.id, updated=False)
    return redirect(p.request, f"/snippets/{created.id}", notice="created")


@page
async def edit(p: Page) -> Response:
    p.require(WRITE)
    snippet_id = snippet_id_of(p.request)
    async with p.transaction() as session:
        current = await repo.get(session, p.user.id, snippet_id)
        workspace = await p.workspace_of(session, current.workspace_id)
    if not current.can_edit:
        return _read_only(p, current)
    if p.request.method == "GET":
        return _form_page(p, SnippetForm.of(current), workspace=workspace, snippet=current)
    submitted = await checked_form(p.request)
    form = SnippetForm.read(submitted)
    form.visibility = current.visibility  # visibility changes on the share page
    if submitted.get("action") == "refresh":
        return _form_page(p, form, workspace=workspace, snippet=current)
    try:
        values = form.checked(p.app.settings)
        changes = repo.Changes(
            title=values.title,
            body=values.body,
            description=values.description,
            tags=values.tags,
            slug=values.slug or current.slug,
            variables=values.variables,
        )
        async with p.transaction() as session:
            saved = await repo.change(
                session, p.caller, snippet_id, changes, expected_version=form.expected_version, message=values.message
            )
            audience = await audience_of(p.app, session, saved)
    except Conflict as error:
        async with p.transaction() as session:
            latest = await repo.get(session, p.user.id, snippet_id)
        message, errors, status = _refused(error)
        conflict = None
        if form.expected_version is not None and latest.version != form.expected_version:
            conflict = {
                "based_on": form.expected_version,
                "latest": latest.version,
                "diff_url": url(
                    p.request, f"/snippets/{snippet_id}/versions/{form.expected_version}/diff/{latest.version}"
                ),
            }
            message = (
                f"Not saved: someone saved version {latest.version} while you were editing version "
                f"{form.expected_version}. Your text is kept below. Look at what changed, merge it into your text, "
                f"then save again: the next save replaces version {latest.version}."
            )
            form.expected_version = latest.version
        return _form_page(
            p,
            form,
            workspace=workspace,
            snippet=latest,
            error=message,
            errors=errors,
            conflict=conflict,
            status_code=status,
        )
    except InvalidArgument as error:
        message, errors, status = _refused(error)
        return _form_page(
            p, form, workspace=workspace, snippet=current, error=message, errors=errors, status_code=status
        )
    await announce(p.app, audience, saved.id, updated=True)
    return redirect(p.request, f"/snippets/{saved.id}", notice="saved")


def _read_only(p: Page, snippet: repo.SnippetView) -> Response:
    return p.render(
        "snippets/read_only.html",
        {"snippet": snippet, "reason": "Only its creator or an owner of its workspace may change this snippet."},
        status_code=403,
    )


@page
async def share(p: Page) -> Response:
    """Who may read the snippet: the share tool's rules (only its creator may make it private)."""
    p.require(WRITE)
    snippet_id = snippet_id_of(p.request)
    async with p.transaction() as session:
        current = await repo.get(session, p.user.id, snippet_id)
        workspace = await p.workspace_of(session, current.workspace_id)
    if not current.can_edit:
        return _read_only(p, current)
    if p.request.method == "GET":
        return _share_page(p, current, workspace)
    form = await checked_form(p.request)
    visibility = form.get("visibility")
    if visibility not in VISIBILITIES:
        return _share_page(p, current, workspace, error="Choose who may read it.", status_code=400)
    if visibility == current.visibility:
        return redirect(p.request, f"/snippets/{snippet_id}")
    try:
        async with p.transaction() as session:
            shared = await repo.change(
                session,
                p.caller,
                snippet_id,
                repo.Changes(visibility=str(visibility)),
                expected_version=None,
                message=f"visibility {current.visibility} → {visibility}",
                action="snippet.share",
            )
            audience = await audience_of(p.app, session, shared, current.visibility)
    except (Conflict, InvalidArgument) as error:
        return _share_page(p, current, workspace, error=_refused(error)[0], status_code=409)
    await announce(p.app, audience, shared.id, updated=True)
    return redirect(p.request, f"/snippets/{snippet_id}", notice="shared")


def _share_page(
    p: Page,
    snippet: repo.SnippetView,
    workspace: WorkspaceView | None,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return p.render(
        "snippets/share.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "visibilities": VISIBILITIES,
            "visibility_text": VISIBILITY_TEXT,
            "may_make_private": snippet.created_by == p.user.id,
            "error": error,
        },
        status_code=status_code,
    )


@page
async def delete(p: Page) -> Response:
    p.require(WRITE)
    snippet_id = snippet_id_of(p.request)
    async with p.transaction() as session:
        current = await repo.get(session, p.user.id, snippet_id)
        workspace = await p.workspace_of(session, current.workspace_id)
    if not current.can_edit:
        return _read_only(p, current)
    if p.request.method == "GET":
        return p.render("snippets/delete.html", {"snippet": current, "workspace": workspace})
    await checked_form(p.request)
    async with p.transaction() as session:
        removed = await repo.remove(session, p.caller, snippet_id)
        audience = await audience_of(p.app, session, removed)
    await announce(p.app, audience, removed.id, updated=True)
    target = f"/workspaces/{workspace.slug}/snippets" if workspace else "/snippets"
    return redirect(p.request, target, notice="deleted")
