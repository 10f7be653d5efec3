"""The render preview: a snippet with its ``{{variables}}`` filled in, as ``render_snippet`` returns it.

Values are inserted literally (``shared.variables.render``). An empty field counts as not
given, so a default applies and a missing required value is named, with every typed value
kept in the form. Rendering changes nothing, but the values may be private, so they travel
in a POST body (with the CSRF token) rather than in the address.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from mcpserver.repository import snippets as repo
from mcpserver.tools.render import MAX_VALUE
from mcpserver.web.csrf import checked_form
from mcpserver.web.markdown import render_markdown
from mcpserver.web.snippet_pages import READ, Page, page, snippet_id_of
from shared.variables import MissingVariables, Variable, VariableError, render


def routes() -> list[BaseRoute]:
    return [Route("/snippets/{snippet_id:uuid}/render", preview, methods=["GET", "POST"])]


@page
async def preview(p: Page) -> Response:
    p.require(READ)
    snippet_id = snippet_id_of(p.request)
    async with p.transaction() as session:
        snippet = await repo.get(session, p.user.id, snippet_id)
        workspace = await p.workspace_of(session, snippet.workspace_id)
    declared = [Variable.from_dict(v) for v in snippet.variables]
    typed: dict[str, str] = {}
    text: str | None = None
    error: str | None = None
    missing: list[str] = []
    status = 200
    if p.request.method == "POST":
        form = await checked_form(p.request, bucket="read")  # renders, changes nothing
        for variable in declared:
            value = form.get(f"value-{variable.name}")
            if isinstance(value, str):
                typed[variable.name] = value.replace("\r\n", "\n")
        given = {name: value for name, value in typed.items() if value != ""}
        too_long = [name for name, value in given.items() if len(value) > MAX_VALUE]
        try:
            if too_long:
                raise VariableError([f"values longer than {MAX_VALUE} characters: {', '.join(too_long)}"])
            text = render(snippet.body, declared, given)
        except MissingVariables as exc:
            missing = exc.names
            error = f"Fill in {', '.join(exc.names)}: {'it is' if len(exc.names) == 1 else 'they are'} required."
            status = 400
        except VariableError as exc:
            error = str(exc)
            status = 400
    return p.render(
        "snippets/render.html",
        {
            "snippet": snippet,
            "workspace": workspace,
            "variables": declared,
            "typed": typed,
            "missing": missing,
            "text": text,
            "text_html": render_markdown(text) if text is not None else None,
            "error": error,
        },
        status_code=status,
    )
