"""What every snippet page does: who is asking, one transaction as them, and failures as pages.

Pages reach the library exactly as the tools do: the signed-in user becomes a
:class:`~mcpserver.context.Caller` (:func:`mcpserver.web.session.caller_of`) and every
read or write runs in ``AppContext.transaction(caller)`` through ``mcpserver.repository``,
so the permission rules (and RLS on Postgres) are the ones MCP clients meet. A snippet
the user cannot read answers 404 like one that does not exist (``mcpserver.web.app`` turns
the repository's errors into pages).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mcpserver.context import AppContext, Caller
from mcpserver.errors import InvalidArgument, NotFound, PermissionDenied
from mcpserver.repository import workspaces
from mcpserver.repository.workspaces import WorkspaceView
from mcpserver.tools.fields import MAX_VERSION
from mcpserver.web.session import WebUser, caller_of, require_user
from mcpserver.web.templating import render, web_path_of

READ, WRITE = "snippets:read", "snippets:write"
Handler = Callable[[Request], Awaitable[Response]]

NOTICES = {
    "created": "Snippet created.",
    "saved": "Saved as a new version.",
    "shared": "Visibility changed.",
    "restored": "Restored as a new version.",
    "file-added": "File added.",
    "file-replaced": "File replaced.",
    "file-removed": "File removed.",
    "deleted": "Snippet deleted.",
}
"""Messages a redirect may ask the next page to show (``?notice=<key>``): fixed texts, nothing reflected."""


def app_context(request: Request) -> AppContext:
    from mcpserver.web.app import app_context as context_of  # the app imports this module's routes

    return context_of(request)


def url(request: Request, path: str, **query: Any) -> str:
    """``path`` under the library's mount, with the non-empty ``query`` parameters."""
    params = {k: v for k, v in query.items() if v not in (None, "", False)}
    return web_path_of(request) + path + (f"?{urlencode(params, doseq=True)}" if params else "")


def redirect(request: Request, path: str, **query: Any) -> RedirectResponse:
    """After a POST: see the result with a GET (303), so reloading does not send the form again."""
    return RedirectResponse(url(request, path, **query), status_code=303)


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def version_number(value: object, field: str = "version") -> int:
    """A version number from a form, a query or the path: 1 up to what the database stores."""
    text = str(value).strip() if value is not None else ""
    if not text.isdecimal() or not 1 <= int(text) <= MAX_VERSION:
        raise InvalidArgument(field, "a version number (see the snippet's history)")
    return int(text)


def snippet_id_of(request: Request) -> uuid.UUID:
    value: uuid.UUID = request.path_params["snippet_id"]
    return value


class Page:
    """One request of a snippet page: the user, their caller, and transactions as them."""

    def __init__(self, request: Request, user: WebUser) -> None:
        self.request = request
        self.user = user
        self.caller: Caller = caller_of(user)
        self.app = app_context(request)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.app.transaction(self.caller) as session:
            yield session

    def require(self, scope: str) -> None:
        if scope not in self.user.scopes:
            raise PermissionDenied(f"this sign-in was not granted {scope}: sign out and in again to grant it")

    async def workspaces(self, session: AsyncSession) -> list[WorkspaceView]:
        return await workspaces.list_for(session, self.user.id)

    async def workspace_by_slug(self, session: AsyncSession, slug: str) -> WorkspaceView:
        """One of the user's workspaces by its slug; any other answers as if it did not exist."""
        for workspace in await self.workspaces(session):
            if workspace.slug == slug:
                return workspace
        raise NotFound("workspace")

    async def workspace_of(self, session: AsyncSession, workspace_id: uuid.UUID) -> WorkspaceView | None:
        """A snippet's workspace if the user is a member (a public snippet may come from elsewhere)."""
        for workspace in await self.workspaces(session):
            if workspace.id == workspace_id:
                return workspace
        return None

    def render(self, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200) -> Response:
        return render(
            self.request, template, {"notice": notice_of(self.request), **(context or {})}, status_code=status_code
        )


def page(handler: Callable[[Page], Awaitable[Response]]) -> Handler:
    """A route for a signed-in user (the app turns the library's errors into pages: 404, 403, 409, 400)."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        return await handler(Page(request, await require_user(request)))

    return endpoint
