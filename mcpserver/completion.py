"""``completion/complete``: suggestions for prompt arguments and resource template parameters.

Only ever from what the caller can read: a prompt argument is completed only for a prompt
the caller can see (with the variable's default); ids come from the caller's own
workspaces and readable snippets (matched by prefix through the primary key index), and
version numbers only for a readable snippet. Anything else gets an empty list, never an
error that would tell invisible from nonexistent.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CompleteRequestParams, CompleteResult, Completion, PromptReference
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import AppContext, Caller, current_caller
from mcpserver.prompt_names import id_range, parse
from mcpserver.repository import prompts as prompt_repo
from mcpserver.repository import snippets as snippet_repo
from mcpserver.repository.snippets import readable_by
from shared.models import Snippet, SnippetVersion, WorkspaceMember
from shared.variables import Variable

MAX_VALUES = 100  # the protocol's limit per answer
SNIPPET_TEMPLATES = ("snippet://{id}", "snippet://{id}/versions/{n}")
WORKSPACE_TEMPLATES = ("workspace://{id}", "workspace://{id}/snippets")
_HEX = re.compile(r"^[0-9a-f]{0,32}$")


def register(server: MCPServer, app: AppContext) -> None:
    async def complete(ctx: ServerRequestContext[Any], params: CompleteRequestParams) -> CompleteResult:
        caller = current_caller()
        given = params.context.arguments if params.context and params.context.arguments else {}
        async with app.transaction(caller) as session:
            values = await _suggest(session, caller, params, given)
        return CompleteResult(completion=Completion(values=values[:MAX_VALUES], has_more=len(values) > MAX_VALUES))

    server._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)


async def _suggest(
    session: AsyncSession, caller: Caller, params: CompleteRequestParams, given: dict[str, str]
) -> list[str]:
    typed = params.argument.value
    if isinstance(params.ref, PromptReference):
        return await _prompt_argument(session, caller, params.ref.name, params.argument.name, typed)
    template, argument = params.ref.uri, params.argument.name
    if template in SNIPPET_TEMPLATES and argument == "id":
        return await _ids(session, _snippet_ids(caller.user_id), Snippet.id, typed)
    if template == "snippet://{id}/versions/{n}" and argument == "n":
        return await _versions(session, caller, given.get("id", ""), typed)
    if template in WORKSPACE_TEMPLATES and argument == "id":
        mine = select(WorkspaceMember.workspace_id).where(WorkspaceMember.user_id == caller.user_id)
        return await _ids(session, mine, WorkspaceMember.workspace_id, typed)
    return []


async def _prompt_argument(session: AsyncSession, caller: Caller, prompt: str, argument: str, typed: str) -> list[str]:
    name = parse(prompt)
    if name is None:
        return []
    try:
        source = await prompt_repo.get(session, caller.user_id, name)
    except ToolError:
        return []
    for raw in source.variables:
        variable = Variable.from_dict(raw)
        if variable.name == argument and variable.default is not None and variable.default.startswith(typed):
            return [variable.default]
    return []


def _snippet_ids(user_id: uuid.UUID) -> Any:
    return select(Snippet.id).where(readable_by(user_id))


async def _ids(session: AsyncSession, query: Any, column: Any, typed: str) -> list[str]:
    """Ids (with hyphens) starting with what was typed, hyphens or not, in id order."""
    prefix = typed.strip().lower().replace("-", "")
    if not _HEX.match(prefix):
        return []
    low, high = id_range(prefix)
    rows = await session.execute(query.where(column.between(low, high)).order_by(column).limit(MAX_VALUES + 1))
    return [str(row[0]) for row in rows]


async def _versions(session: AsyncSession, caller: Caller, snippet_id: str, typed: str) -> list[str]:
    try:
        snippet = await snippet_repo.get(session, caller.user_id, uuid.UUID(snippet_id))
    except (ValueError, ToolError):
        return []
    rows = await session.execute(
        select(SnippetVersion.version)
        .where(SnippetVersion.snippet_id == snippet.id)
        .order_by(SnippetVersion.version.desc())
    )
    return [str(n) for (n,) in rows if str(n).startswith(typed.strip())]
