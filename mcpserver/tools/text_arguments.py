"""Keep text arguments as text.

The SDK "pre-parses" a string argument as JSON whenever the parameter's annotation is not
exactly ``str`` (a workaround for clients that send lists as JSON strings). For an optional
text parameter (``str | None``) that turns a snippet body such as ``{"a": 1}`` into a dict
(a validation error) and ``null`` into ``None`` (an update that silently changes nothing).
Our tools' text is the user's content, never JSON to decode, so strings stay strings for
every parameter that accepts a string.

The same metadata makes argument errors read like the tools' own (``invalid <field>: …``,
without echoing the rejected value or pydantic's model names and links), and refuses NUL
characters in any text argument: Postgres cannot store them, SQLite would, and a library
must hold the same text on both.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


def _accepts_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _accepts_str(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_str(arg) for arg in typing.get_args(annotation))
    return False


class ArgumentError(ValidationError):
    """A rejected tool argument, worded like :class:`mcpserver.errors.InvalidArgument`.

    Still a ``ValidationError``: the SDK reports those as tool errors (``isError``) and logs
    only the field names, whereas anything else raised while validating counts as a crash.
    """

    def __str__(self) -> str:
        problems = [_problem(error["loc"], error["msg"]) for error in self.errors(include_url=False)[:5]]
        more = len(self.errors()) - len(problems)
        return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def _problem(location: tuple[int | str, ...], message: str) -> str:
    field = ".".join(str(part) for part in location) or "arguments"
    return f"invalid {field}: {message[:1].lower()}{message[1:]}"


def _nul_characters(data: dict[str, Any]) -> list[InitErrorDetails]:
    """An error for every string (or key) holding U+0000, walking nested values without recursion."""
    found: list[InitErrorDetails] = []
    stack: list[tuple[tuple[int | str, ...], Any]] = [((key,), value) for key, value in data.items()]
    while stack and len(found) < 5:
        location, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            problem = PydanticCustomError("nul_character", "must not contain NUL characters (U+0000)")
            found.append({"type": problem, "loc": location, "input": value})
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append(((*location, str(key)), key))
                stack.append(((*location, str(key)), item))
        elif isinstance(value, list):
            stack.extend(((*location, index), item) for index, item in enumerate(value))
    return found


class TextKeepingMetadata(FuncMetadata):
    """The SDK's argument handling, minus JSON decoding of strings meant as text, with readable errors."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        if nul := _nul_characters(arguments_to_validate):
            raise ArgumentError.from_exception_data("arguments", nul)
        try:
            return super().validate_arguments(arguments_to_validate)
        except ArgumentError:
            raise
        except ValidationError as exc:
            raise ArgumentError.from_exception_data(exc.title, _details(exc)) from None

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        parsed = super().pre_parse_json(data)
        fields = self.arg_model.model_fields
        for key, value in data.items():
            field = fields.get(key)
            if isinstance(value, str) and field is not None and _accepts_str(field.annotation):
                parsed[key] = value
        return parsed


def _details(exc: ValidationError) -> list[InitErrorDetails]:
    return [
        {"type": PydanticCustomError(error["type"], error["msg"]), "loc": error["loc"], "input": error["input"]}
        for error in exc.errors(include_url=False)
    ]


def keep_text_arguments(server: MCPServer) -> None:
    """Apply :class:`TextKeepingMetadata` to every registered tool (the SDK offers no option for it)."""
    for tool in server._tool_manager.list_tools():  # private: the SDK has no public hook for this
        tool.fn_metadata = TextKeepingMetadata.model_construct(**dict(tool.fn_metadata))
