"""Errors a model can act on, one type per kind of failure.

Tools raise these; the SDK turns a ``ToolError`` into a tool result with ``isError`` and
the message as text, which is what a model reads. Every message starts with its kind
(``not found:``, ``permission denied:``, ``invalid <field>:``, ``conflict:``,
``rate limited:``, ``unavailable:``) and says what to do next. Resource reads map the same errors to
JSON-RPC errors (``mcpserver.resources``).
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError


class NotFound(ToolError):
    """Nothing visible to the caller has this identity (identical for invisible and nonexistent)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not found: no {what} with that id is visible to you")


class PermissionDenied(ToolError):
    """The caller can see the thing but may not do this to it."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"permission denied: {reason}")


class InvalidArgument(ToolError):
    """An argument is wrong; the message names the field and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}")
        self.field = field


class Conflict(ToolError):
    """The change collides with another one (a stale version, a taken slug, the last owner)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"conflict: {reason}")


class RateLimited(ToolError):
    """Too many calls in this window; ``retry_after`` seconds until the next one is allowed."""

    def __init__(self, retry_after: int, bucket: str, limit: int) -> None:
        super().__init__(f"rate limited: at most {limit} {bucket} calls per minute; retry in {retry_after} s")
        self.retry_after = retry_after


class Unavailable(ToolError):
    """The database did not answer (restarting, overloaded, timed out): retry later; a save retried
    with the same ``idempotency_key`` is not applied twice, whether or not the first one was."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"unavailable: the library's database did not answer; retry in {retry_after} s "
            "(a save retried with the same idempotency_key is never applied twice)"
        )
        self.retry_after = retry_after
