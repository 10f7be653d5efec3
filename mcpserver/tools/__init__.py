"""MCP tools, one module per area; each module registers its tools and declares their scopes."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from mcpserver.context import AppContext
from mcpserver.tools import members, render, search, skill_files, snippets, versions, workspaces
from mcpserver.tools.text_arguments import keep_text_arguments

TOOL_SCOPES: dict[str, tuple[str, ...]] = {
    **workspaces.SCOPES,
    **members.SCOPES,
    **snippets.SCOPES,
    **versions.SCOPES,
    **search.SCOPES,
    **render.SCOPES,
    **skill_files.SCOPES,
}
"""Scopes each tool needs; the gate answers 403 naming them when a token lacks one."""

TOOL_BUCKETS: dict[str, str] = {
    name: "read" if scopes == ("snippets:read",) else "write" for name, scopes in TOOL_SCOPES.items()
}
"""Rate-limit bucket of each tool: reads, or writes (anything that needs a write scope)."""


def register_all(server: MCPServer, app: AppContext) -> None:
    workspaces.register(server, app)
    members.register(server, app)
    snippets.register(server, app)
    versions.register(server, app)
    search.register(server, app)
    render.register(server, app)
    skill_files.register(server, app)
    keep_text_arguments(server)
