"""The render tool: a snippet with its {{variables}} filled in."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import snippets as repo
from mcpserver.repository import versions
from mcpserver.tools.fields import MAX_VERSION, SnippetId
from mcpserver.tools.results import answer
from shared.variables import MissingVariables, Variable, VariableError, render

SCOPES: dict[str, tuple[str, ...]] = {"render_snippet": ("snippets:read",)}

MAX_VALUE = 100_000


class Rendered(BaseModel):
    id: str
    version: int
    title: str
    text: str = Field(description="The body with every variable filled in")


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="Render a snippet",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    async def render_snippet(
        id: SnippetId,
        variables: Annotated[
            dict[str, str] | None, Field(description="A value for each variable, by name (see get_snippet)")
        ] = None,
        version: Annotated[
            int | None, Field(description="An earlier version; default the newest", ge=1, le=MAX_VERSION)
        ] = None,
    ) -> Annotated[CallToolResult, Rendered]:
        """Fill in a snippet's {{variables}} and return the text.

        Values are inserted exactly as given (nothing in them is expanded). Every missing
        required variable is named in one error; optional ones take their default or stay empty.
        """
        values = variables or {}
        too_long = [name for name, value in values.items() if len(value) > MAX_VALUE]
        if too_long:
            raise InvalidArgument("variables", f"values longer than {MAX_VALUE} characters: {', '.join(too_long)}")
        caller = current_caller()
        async with app.transaction(caller) as session:
            view = await repo.get(session, caller.user_id, id)
            if version is not None and version != view.version:
                view = versions.as_of(view, await versions.get_version(session, view, version))
        declared = [Variable.from_dict(v) for v in view.variables]
        try:
            text = render(view.body, declared, values)
        except MissingVariables as exc:
            described = [_describe(name, declared) for name in exc.names]
            raise InvalidArgument("variables", f"{exc}; give: {'; '.join(described)}") from None
        except VariableError as exc:
            raise InvalidArgument("variables", str(exc)) from None
        return answer(Rendered(id=str(view.id), version=view.version, title=view.title, text=text), text)


def _describe(name: str, declared: list[Variable]) -> str:
    variable = next((v for v in declared if v.name == name), None)
    return f"{name} ({variable.description})" if variable and variable.description else name
