"""The page ``resource_documentation`` points to: what this MCP server offers, for people.

Generated from the registered tools, their scopes and the resource templates, so it
cannot drift from what the server does.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from mcpserver.resources import TEMPLATES
from mcpserver.tools import TOOL_SCOPES
from shared.settings import SCOPES, Settings


def docs_route(server: MCPServer, settings: Settings) -> Route:
    async def page(request: Request) -> HTMLResponse:
        tools = await server.list_tools()
        rows = "".join(
            f"<tr><td><code>{escape(t.name)}</code></td><td>{escape(' '.join(TOOL_SCOPES.get(t.name, ())))}</td>"
            f"<td>{escape((t.description or '').strip())}</td></tr>"
            for t in tools
        )
        templates = "".join(
            f"<li><code>{escape(t.uri_template)}</code>: {escape(t.description or '')}</li>" for t in TEMPLATES
        )
        scopes = "".join(f"<li><code>{escape(k)}</code>: {escape(v)}</li>" for k, v in SCOPES.items())
        body = (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>shared-skills MCP server</title>"
            "</head><body><h1>shared-skills MCP server</h1>"
            f"<p>Connect an MCP client to <code>{escape(settings.resource_url)}</code>; it signs you in at "
            f"<code>{escape(settings.issuer_url)}</code>.</p><h2>Scopes</h2><ul>{scopes}</ul>"
            f"<h2>Tools</h2><table><tr><th>Tool</th><th>Scopes</th><th>What it does</th></tr>{rows}</table>"
            f"<h2>Resources</h2><ul>{templates}</ul></body></html>"
        )
        return HTMLResponse(body, headers={"Cache-Control": "public, max-age=300"})

    # Next to the endpoint, as the metadata's resource_documentation says: …/mcp → …/docs.
    path = urlsplit(settings.resource_url).path.rsplit("/", 1)[0] + "/docs"
    return Route(path, page, methods=["GET"])
