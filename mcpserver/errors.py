"""Errors a model can act on, each one kind of failure.

Tools raise these; the SDK turns a ``ToolError`` into a tool result with ``isError``
and the message as text, which is what a model reads and acts on.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class NotFound(ToolError):
    """Nothing visible to the caller has this identity (identical for invisible and nonexistent)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not found: no {what} with that id is visible to you")


class PermissionDenied(ToolError):
    """The caller can see the thing but may not do this to it."""


class InvalidArgument(ToolError):
    """An argument is wrong; the message names the field and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}")
        self.field = field


class Conflict(ToolError):
    """The change collides with another one (a stale version, a taken slug)."""
