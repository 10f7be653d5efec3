"""The web library's requests count against the same per-user rate limits as MCP calls.

One :class:`~mcpserver.ratelimit.RateLimiter` per process (the MCP server's, handed over by
``create_web_app``), so a person has one budget however they reach the library: a page
viewed (GET) is a ``read``, a form that changes something (POST) a ``write``. The render
preview's POST changes nothing and counts as a read, as ``render_snippet`` does. Sign-out is
not counted: ending a session must always work. Over the limit the request is refused with a
429 page and ``Retry-After`` before its form is read, so nothing is written.
"""

from __future__ import annotations

import uuid
from typing import Literal

from starlette.exceptions import HTTPException
from starlette.requests import Request

from mcpserver.web.state import library

Bucket = Literal["read", "write"]
_COUNTED = "web_rate_counted"

_WHAT = {"read": "pages", "write": "changes"}


class TooManyRequests(HTTPException):
    def __init__(self, bucket: Bucket, limit: int, retry_after: int) -> None:
        super().__init__(
            429,
            f"You have reached the limit of {limit} {_WHAT[bucket]} a minute (shared with your MCP clients). "
            f"Nothing was changed. Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


async def count(request: Request, user_id: uuid.UUID, bucket: Bucket) -> None:
    """Count this request once in ``bucket``; :class:`TooManyRequests` when over the limit."""
    if request.scope.get(_COUNTED):
        return
    request.scope[_COUNTED] = True
    limiter = library(request).limiter
    retry_after = await limiter.hit(user_id, bucket)
    if retry_after is not None:
        raise TooManyRequests(bucket, limiter.limits[bucket], retry_after)
