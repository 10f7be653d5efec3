"""Tools for workspaces: list the caller's, create one."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver.context import AppContext, current_caller
from mcpserver.repository import workspaces as repo
from mcpserver.tools import fields
from mcpserver.tools.results import answer

SCOPES: dict[str, tuple[str, ...]] = {
    "list_workspaces": ("snippets:read",),
    "create_workspace": ("workspaces:write",),
}


class WorkspaceOut(BaseModel):
    id: str = Field(description="Workspace id (UUID)")
    name: str
    slug: str = Field(description="Short unique name used in URLs")
    role: str = Field(description="Your role: owner or member")


class WorkspaceList(BaseModel):
    workspaces: list[WorkspaceOut]


def workspace_out(view: repo.WorkspaceView) -> WorkspaceOut:
    return WorkspaceOut(id=str(view.id), name=view.name, slug=view.slug, role=view.role)


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="List workspaces",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def list_workspaces() -> Annotated[CallToolResult, WorkspaceList]:
        """List the workspaces you belong to, with your role in each (owner or member).

        Snippets live in workspaces: use a workspace id with list_snippets or save_snippet.
        """
        caller = current_caller()
        async with app.transaction(caller) as session:
            views = await repo.list_for(session, caller.user_id)
        result = WorkspaceList(workspaces=[workspace_out(v) for v in views])
        if not views:
            return answer(result, "You belong to no workspace yet: create one with create_workspace.")
        lines = [f"- {v.name} (id {v.id}, you are {v.role})" for v in views]
        return answer(result, f"You belong to {len(views)} workspace(s):\n" + "\n".join(lines))

    @server.tool(
        title="Create a workspace",
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False),
    )
    async def create_workspace(
        name: Annotated[str, Field(description="Display name of the new workspace", max_length=200)],
    ) -> Annotated[CallToolResult, WorkspaceOut]:
        """Create a workspace; you become its owner and can invite others with invite_to_workspace."""
        name = fields.text("name", name)
        caller = current_caller()
        async with app.transaction(caller) as session:
            view = await repo.create(session, caller, name)
        return answer(workspace_out(view), f"Created workspace {view.name} (id {view.id}); you are its owner.")
