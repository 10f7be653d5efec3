"""Reading a request body once and handing the next ASGI app a ``receive`` that replays it.

The gate reads a POST's body to find the scopes its JSON-RPC call needs; the single-request
path reads it again to decide whether it serves the request; the SDK reads whatever reaches it.
"""

from __future__ import annotations

import math

from starlette.types import Message, Receive


class BodyTooLarge(Exception):
    pass


async def read_body(receive: Receive, limit: float = math.inf) -> tuple[bytes, Receive]:
    """The whole body (:class:`BodyTooLarge` past ``limit`` bytes) and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
