"""Tools for workspaces: list the caller's, create one."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import workspaces as repo

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


def _out(view: repo.WorkspaceView) -> WorkspaceOut:
    return WorkspaceOut(id=str(view.id), name=view.name, slug=view.slug, role=view.role)


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="List workspaces",
        annotations=ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False),
    )
    async def list_workspaces() -> WorkspaceList:
        """List the workspaces you belong to, with your role in each."""
        caller = current_caller()
        async with app.transaction(caller) as session:
            views = await repo.list_for(session, caller.user_id)
        return WorkspaceList(workspaces=[_out(v) for v in views])

    @server.tool(
        title="Create a workspace",
        annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False),
    )
    async def create_workspace(
        name: Annotated[str, Field(description="Display name of the new workspace", max_length=200)],
    ) -> WorkspaceOut:
        """Create a workspace; you become its owner and can invite others."""
        name = name.strip()
        if not name:
            raise InvalidArgument("name", "must not be empty")
        caller = current_caller()
        async with app.transaction(caller) as session:
            view = await repo.create(session, caller.user_id, name)
        return _out(view)
