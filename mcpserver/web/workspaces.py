"""Workspace pages: the list and creation, one workspace with its members, roles and invitations.

Everything goes through :mod:`mcpserver.repository` as the signed-in user (RLS on
Postgres), exactly as the MCP tools do; a workspace the user is not in answers 404, like
one that does not exist. Forms are plain POSTs answered with 303 (no script needed);
outcomes are shown from a fixed set of messages (``?done=…``), never from reflected text.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from mcpserver.errors import InvalidArgument, NotFound
from mcpserver.repository import invitations as invitations_repo
from mcpserver.repository import members as members_repo
from mcpserver.repository import workspaces as workspaces_repo
from mcpserver.repository.workspaces import WorkspaceView
from mcpserver.tools import fields
from mcpserver.web.csrf import checked_form
from mcpserver.web.session import WebUser, caller_of, require_user
from mcpserver.web.state import app_context, library
from mcpserver.web.templating import render
from shared.models import ROLES

MANAGE_SCOPE = "workspaces:write"
NOTICES = {
    "created": "Workspace created. You are its owner.",
    "invited": "Invitation recorded: they join as soon as they have an account on this server (at once if they do).",
    "cancelled": "Invitation cancelled.",
    "role": "Role changed.",
    "removed": "Member removed.",
}


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("done", ""))


def _can_manage(user: WebUser) -> None:
    if MANAGE_SCOPE not in user.scopes:
        raise HTTPException(403, "Your sign-in does not include managing workspaces (workspaces:write).")


def _field(form: FormData, name: str, max_length: int = 320) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        raise InvalidArgument(name, "missing")
    if len(value) > max_length:
        raise InvalidArgument(name, f"at most {max_length} characters")
    return value


def _role(form: FormData) -> str:
    role = _field(form, "role", 16)
    if role not in ROLES:
        raise InvalidArgument("role", "owner or member")
    return role


async def _workspace(request: Request, user: WebUser, slug: str) -> WorkspaceView:
    """The user's workspace with this slug; any other is not found."""
    async with app_context(request).transaction(caller_of(user)) as session:
        views = await workspaces_repo.list_for(session, user.id)
    for view in views:
        if view.slug == slug:
            return view
    raise NotFound("workspace")


def _back(request: Request, slug: str, done: str, anchor: str = "") -> RedirectResponse:
    path = f"{library(request).settings.web_path}/workspaces/{slug}?done={done}{anchor}"
    return RedirectResponse(path, status_code=303)


async def list_workspaces(request: Request) -> Response:
    user = await require_user(request)
    async with app_context(request).transaction(caller_of(user)) as session:
        views = await workspaces_repo.list_for(session, user.id)
    return render(request, "workspaces/list.html", {"workspaces": views, "notice": _notice(request)})


async def create_workspace(request: Request) -> Response:
    user = await require_user(request)
    form = await checked_form(request)
    _can_manage(user)
    raw = form.get("name")
    name = raw.strip() if isinstance(raw, str) else ""
    problem = None
    if not name:
        problem = "Give the workspace a name."
    elif len(name) > 200:
        problem = "A name has at most 200 characters."
    if problem:
        async with app_context(request).transaction(caller_of(user)) as session:
            views = await workspaces_repo.list_for(session, user.id)
        context = {"workspaces": views, "name_error": problem, "name": name}
        return render(request, "workspaces/list.html", context, status_code=400)
    async with app_context(request).transaction(caller_of(user)) as session:
        view = await workspaces_repo.create(session, caller_of(user), name)
    return _back(request, view.slug, "created")


async def show_workspace(request: Request) -> Response:
    user = await require_user(request)
    workspace = await _workspace(request, user, request.path_params["slug"])
    caller = caller_of(user)
    async with app_context(request).transaction(caller) as session:
        members = await members_repo.list_members(session, caller, workspace.id)
        pending = await invitations_repo.pending(session, caller, workspace.id)
    context: dict[str, Any] = {
        "workspace": workspace,
        "members": members,
        "invitations": pending,
        "owners": sum(1 for m in members if m.role == "owner"),
        "is_owner": workspace.role == "owner",
        "roles": ROLES,
        "notice": _notice(request),
    }
    return render(request, "workspaces/show.html", context)


async def invite(request: Request) -> Response:
    user = await require_user(request)
    form = await checked_form(request)
    _can_manage(user)
    workspace = await _workspace(request, user, request.path_params["slug"])
    email, role = fields.email(_field(form, "email")), _role(form)
    async with app_context(request).transaction(caller_of(user)) as session:
        await members_repo.invite(session, caller_of(user), workspace.id, email, role)
    return _back(request, workspace.slug, "invited", "#invitations")


async def cancel_invitation(request: Request) -> Response:
    user = await require_user(request)
    form = await checked_form(request)
    _can_manage(user)
    workspace = await _workspace(request, user, request.path_params["slug"])
    email = fields.email(_field(form, "email"))
    async with app_context(request).transaction(caller_of(user)) as session:
        await members_repo.remove(session, caller_of(user), workspace.id, email=email)
    return _back(request, workspace.slug, "cancelled", "#invitations")


def _member_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["user_id"])
    except ValueError:
        raise NotFound("member") from None


async def set_role(request: Request) -> Response:
    user = await require_user(request)
    form = await checked_form(request)
    _can_manage(user)
    workspace = await _workspace(request, user, request.path_params["slug"])
    async with app_context(request).transaction(caller_of(user)) as session:
        await members_repo.set_role(session, caller_of(user), workspace.id, _member_id(request), _role(form))
    return _back(request, workspace.slug, "role", "#members")


async def remove_member(request: Request) -> Response:
    user = await require_user(request)
    await checked_form(request)
    _can_manage(user)
    workspace = await _workspace(request, user, request.path_params["slug"])
    async with app_context(request).transaction(caller_of(user)) as session:
        await members_repo.remove(session, caller_of(user), workspace.id, user_id=_member_id(request))
    return _back(request, workspace.slug, "removed", "#members")


async def leave(request: Request) -> Response:
    user = await require_user(request)
    await checked_form(request)
    _can_manage(user)
    workspace = await _workspace(request, user, request.path_params["slug"])
    async with app_context(request).transaction(caller_of(user)) as session:
        await members_repo.leave(session, caller_of(user), workspace.id)
    return RedirectResponse(f"{library(request).settings.web_path}/workspaces", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/workspaces", list_workspaces, methods=["GET"]),
        Route("/workspaces", create_workspace, methods=["POST"]),
        Route("/workspaces/{slug}", show_workspace, methods=["GET"]),
        Route("/workspaces/{slug}/invitations", invite, methods=["POST"]),
        Route("/workspaces/{slug}/invitations/cancel", cancel_invitation, methods=["POST"]),
        Route("/workspaces/{slug}/members/{user_id}/role", set_role, methods=["POST"]),
        Route("/workspaces/{slug}/members/{user_id}/remove", remove_member, methods=["POST"]),
        Route("/workspaces/{slug}/leave", leave, methods=["POST"]),
    ]
