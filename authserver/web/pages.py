"""Server-rendered HTML with the headers every page of ours sends.

Pages load nothing from third parties: one stylesheet served by us, no scripts. A fixed
stylesheet (rather than a per-response CSP nonce) also keeps two renderings of the same form
byte-identical, which the login page relies on.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def security_headers(form_targets: Iterable[str] = ()) -> dict[str, str]:
    """Headers of every HTML page. ``form_targets``: origins a form may end up redirecting to.

    Browsers apply ``form-action`` to the redirects that follow a form submission, so the
    consent form must allow the client's redirect URI as well as ourselves.
    """
    form_action = " ".join(["'self'", *form_targets])
    return {
        "Content-Security-Policy": (
            "default-src 'none'; style-src 'self'; img-src 'self'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


class Pages:
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )

    def render(
        self, template: str, *, status: int = 200, form_targets: Iterable[str] = (), **context: Any
    ) -> HTMLResponse:
        html = self.env.get_template(template).render(issuer=self.issuer, **context)
        return HTMLResponse(html, status_code=status, headers=security_headers(form_targets))

    def error(self, title: str, message: str, *, status: int = 400) -> HTMLResponse:
        return self.render("error.html", status=status, title=title, message=message)

    def expired_request(self) -> HTMLResponse:
        return self.error(
            "This sign-in request has expired",
            "It was already used or is too old. Start signing in again from the application.",
        )
