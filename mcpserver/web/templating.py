"""Server-rendered pages: one Jinja2 environment (autoescaped) over ``mcpserver/web/templates``.

Every page gets ``user`` (the signed-in :class:`WebUser` or None), ``csrf_token`` (for
its forms), ``web_path`` (the mount prefix) and ``url(path)`` (``web_path`` + path).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def web_path_of(request: Request) -> str:
    from mcpserver.web.state import library

    return library(request).settings.web_path


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render ``template`` with the page globals; security headers come from the app's middleware."""
    active = request.scope.get("web_session")
    web_path = web_path_of(request)
    values: dict[str, Any] = {
        "request": request,
        "user": active.user if active is not None else None,
        "csrf_token": active.csrf_token if active is not None else "",
        "web_path": web_path,
        "url": lambda path="": web_path + path,
        **(context or {}),
    }
    html = environment.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
