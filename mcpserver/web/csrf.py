"""CSRF protection of the web library's forms: a per-session token in a hidden field.

Every form carries ``csrf_token`` (the templates put it in); a POST whose token does not
equal its session's (compared in constant time) is refused with 403 before anything
changes. SameSite=Lax on the session cookie is a second fence, not the only one.

Before the form is read, the request counts against the user's rate limit (``bucket``,
:mod:`mcpserver.web.throttle`); the parser's limits are :mod:`mcpserver.web.limits`'.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from mcpserver.web.limits import MAX_FORM_FIELDS, MAX_FORM_FILES, MAX_PART_BYTES
from mcpserver.web.session import active_session, require_user
from mcpserver.web.throttle import Bucket, count


class CSRFRefused(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            403, "This form has expired or did not come from this site. Go back, reload the page and try again."
        )


async def checked_form(request: Request, bucket: Bucket | None = "write") -> FormData:
    """The submitted form, once its CSRF token matched the session's; else a 403 page.

    ``bucket``: the rate limit it counts against (None: not counted, for signing out)."""
    user = await require_user(request)
    active = await active_session(request)
    assert active is not None
    if bucket is not None:
        await count(request, user.id, bucket)
    form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=MAX_FORM_FILES, max_part_size=MAX_PART_BYTES)
    given = form.get("csrf_token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), active.csrf_token.encode()):
        raise CSRFRefused()
    return form
