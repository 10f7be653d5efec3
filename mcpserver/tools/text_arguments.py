"""Keep text arguments as text.

The SDK "pre-parses" a string argument as JSON whenever the parameter's annotation is not
exactly ``str`` (a workaround for clients that send lists as JSON strings). For an optional
text parameter (``str | None``) that turns a snippet body such as ``{"a": 1}`` into a dict
(a validation error) and ``null`` into ``None`` (an update that silently changes nothing).
Our tools' text is the user's content, never JSON to decode, so strings stay strings for
every parameter that accepts a string.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata


def _accepts_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts_str(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_str(arg) for arg in typing.get_args(annotation))
    return False


class TextKeepingMetadata(FuncMetadata):
    """The SDK's argument handling, minus JSON decoding of strings meant as text."""

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        parsed = super().pre_parse_json(data)
        fields = self.arg_model.model_fields
        for key, value in data.items():
            field = fields.get(key)
            if isinstance(value, str) and field is not None and _accepts_str(field.annotation):
                parsed[key] = value
        return parsed


def keep_text_arguments(server: MCPServer) -> None:
    """Apply :class:`TextKeepingMetadata` to every registered tool (the SDK offers no option for it)."""
    for tool in server._tool_manager.list_tools():  # private: the SDK has no public hook for this
        tool.fn_metadata = TextKeepingMetadata.model_construct(**dict(tool.fn_metadata))
