"""MCP prompts: every snippet the caller can read, with its variables as arguments.

``prompts/list`` is per user and paginated (newest change first, like ``list_snippets``),
so it needs the low-level handlers (``MCPServer`` would serve one fixed page); its answer
is ``cacheScope: private`` (``mcpserver.app.CACHE_HINTS``). Names are described in
``mcpserver.prompt_names``.

``prompts/get`` renders the snippet with ``shared.variables.render``: values are inserted
literally. Claude Code passes only the first word of an argument and may leave the others
out, so a blank argument counts as absent, and an absent optional variable (without a
default) becomes an instruction to ask the user for it instead of an error. Absent required
variables are one ``-32602`` error naming all of them.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    PaginatedRequestParams,
    Prompt,
    PromptArgument,
    PromptMessage,
    TextContent,
)

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.prompt_names import parse
from mcpserver.repository import prompts as repo
from mcpserver.resources import snippet_position
from shared.variables import MissingVariables, Variable, render

PAGE_SIZE = 100
CURSOR_KIND = "prompts"


def ask_for(variable: Variable) -> str:
    """What an absent optional variable renders as: an instruction to the model."""
    about = f" ({variable.description})" if variable.description else ""
    return f"[ask the user for {variable.name}{about} and use their answer here]"


def as_prompt(source: repo.PromptSource) -> Prompt:
    variables = [Variable.from_dict(v) for v in source.variables]
    return Prompt(
        name=source.name,
        title=source.title,
        description=source.description or source.title,
        arguments=[
            PromptArgument(
                name=v.name,
                description=v.description or (f"default: {v.default}" if v.default is not None else None),
                required=v.required,
            )
            for v in variables
        ],
    )


def register(server: MCPServer, app: AppContext) -> None:
    """Replace the SDK's fixed prompt handlers with per-user ones."""

    async def list_prompts(ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None) -> ListPromptsResult:
        cursor = params.cursor if params is not None else None
        caller = current_caller()
        try:
            after = snippet_position(cursors.decode(cursor, (CURSOR_KIND,))[1]) if cursor else None
        except cursors.InvalidCursor as exc:
            raise MCPError(INVALID_PARAMS, f"invalid cursor: {exc}") from None
        async with app.transaction(caller) as session:
            page, more = await repo.list_page(session, caller.user_id, after=after, limit=PAGE_SIZE)
        next_cursor = cursors.encode(CURSOR_KIND, [more.updated_at.isoformat(), str(more.id)]) if more else None
        return ListPromptsResult(prompts=[as_prompt(s) for s in page], next_cursor=next_cursor)

    async def get_prompt(ctx: ServerRequestContext[Any], params: GetPromptRequestParams) -> GetPromptResult:
        caller = current_caller()
        name = parse(params.name)
        if name is None:
            raise _not_found(params.name)
        try:
            async with app.transaction(caller) as session:
                source = await repo.get(session, caller.user_id, name)
        except ToolError:
            raise _not_found(params.name) from None
        values = {k: v for k, v in (params.arguments or {}).items() if v.strip()}
        variables = [Variable.from_dict(v) for v in source.variables]
        try:
            text = render(source.body, variables, values, unknown="ignore", absent_optional=ask_for)
        except MissingVariables as exc:
            raise MCPError(INVALID_PARAMS, f"{exc}", data={"missing": exc.names}) from None
        return GetPromptResult(
            description=source.description or source.title,
            messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
        )

    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("prompts/list", PaginatedRequestParams, list_prompts)
    lowlevel.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)


def _not_found(name: str) -> MCPError:
    return MCPError(INVALID_PARAMS, f"not found: no prompt named {name!r} is visible to you", data={"name": name})
