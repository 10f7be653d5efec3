"""MCP tools, one module per area; each module registers its tools and their scopes."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcpserver.context import AppContext
from mcpserver.tools import workspaces

TOOL_SCOPES: dict[str, tuple[str, ...]] = {**workspaces.SCOPES}
"""Scopes each tool needs; the gate answers 403 naming them when a token lacks one."""


def register_all(server: MCPServer, app: AppContext) -> None:
    workspaces.register(server, app)
