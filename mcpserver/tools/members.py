"""Tools for the people in a workspace: invite, list, remove, change roles, leave."""

from __future__ import annotations

import uuid
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import members as repo
from mcpserver.tools import fields
from mcpserver.tools.fields import Role, UserId, WorkspaceId
from mcpserver.tools.results import answer

SCOPES: dict[str, tuple[str, ...]] = {
    "list_members": ("snippets:read",),
    "invite_to_workspace": ("workspaces:write",),
    "remove_member": ("workspaces:write",),
    "set_member_role": ("workspaces:write",),
    "leave_workspace": ("workspaces:write",),
}


class MemberOut(BaseModel):
    user_id: str = Field(description="User id (UUID)")
    name: str | None = Field(description="Display name")
    role: str = Field(description="owner or member")
    joined_at: str = Field(description="When they joined (ISO 8601)")


class MemberList(BaseModel):
    workspace_id: str
    members: list[MemberOut]


class Invited(BaseModel):
    workspace_id: str
    email: str
    role: str


class Done(BaseModel):
    workspace_id: str
    done: bool = True


def _member(view: repo.MemberView) -> MemberOut:
    return MemberOut(user_id=str(view.user_id), name=view.name, role=view.role, joined_at=view.joined_at.isoformat())


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="List members",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_members(workspace_id: WorkspaceId) -> Annotated[CallToolResult, MemberList]:
        """List the members of a workspace you belong to, owners first."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            views = await repo.list_members(session, caller, workspace_id)
        lines = [f"- {v.name or '(unnamed)'} ({v.role}, user id {v.user_id})" for v in views]
        result = MemberList(workspace_id=str(workspace_id), members=[_member(v) for v in views])
        return answer(result, f"{len(views)} member(s):\n" + "\n".join(lines))

    @server.tool(
        title="Invite to a workspace",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def invite_to_workspace(
        workspace_id: WorkspaceId,
        email: Annotated[str, Field(description="Email address of the person to invite", max_length=320)],
        role: Annotated[Role, Field(description="Their role: member (default) or owner")] = "member",
    ) -> Annotated[CallToolResult, Invited]:
        """Invite someone by email (owners only).

        They join with that role as soon as they have an account on this server: at once if they
        already have one, otherwise when it is created. The answer is the same either way.
        """
        address = fields.email(email)
        caller = current_caller()
        async with app.transaction(caller) as session:
            await repo.invite(session, caller, workspace_id, address, role)
        return answer(
            Invited(workspace_id=str(workspace_id), email=address, role=role),
            f"Invited {address} as {role}: they join the workspace with their account on this server.",
        )

    @server.tool(
        title="Remove a member",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def remove_member(
        workspace_id: WorkspaceId,
        user_id: Annotated[uuid.UUID | None, Field(description="User id of the member to remove")] = None,
        email: Annotated[
            str | None, Field(description="Or: an email address, to remove that person and/or cancel their invitation")
        ] = None,
    ) -> Annotated[CallToolResult, Done]:
        """Remove a member from a workspace, or cancel an invitation (owners only).

        Give exactly one of user_id or email. The last owner cannot be removed.
        """
        if (user_id is None) == (email is None):
            raise InvalidArgument("user_id", "give exactly one of user_id or email")
        address = fields.email(email) if email is not None else None
        caller = current_caller()
        async with app.transaction(caller) as session:
            await repo.remove(session, caller, workspace_id, user_id=user_id, email=address)
        who = address or str(user_id)
        return answer(Done(workspace_id=str(workspace_id)), f"Removed {who} from the workspace (and any invitation).")

    @server.tool(
        title="Set a member's role",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def set_member_role(
        workspace_id: WorkspaceId,
        user_id: UserId,
        role: Annotated[Role, Field(description="The new role: owner or member")],
    ) -> Annotated[CallToolResult, MemberOut]:
        """Make a member an owner, or an owner a member (owners only; the last owner stays owner)."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            view = await repo.set_role(session, caller, workspace_id, user_id, role)
        return answer(_member(view), f"{view.name or view.user_id} is now {view.role}.")

    @server.tool(
        title="Leave a workspace",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def leave_workspace(workspace_id: WorkspaceId) -> Annotated[CallToolResult, Done]:
        """Leave a workspace. Its last owner cannot leave: make someone else owner first.

        Your private snippets in it stay, unreadable to anyone, until you are invited back.
        """
        caller = current_caller()
        async with app.transaction(caller) as session:
            await repo.leave(session, caller, workspace_id)
        return answer(Done(workspace_id=str(workspace_id)), "You left the workspace.")
