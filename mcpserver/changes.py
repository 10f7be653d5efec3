"""List-changed notifications, each to the users whose lists changed.

What the transport can deliver (checked in the SDK, ``mcp`` 2.3):

- 2026-07-28 clients open a ``subscriptions/listen`` request whose response is an SSE
  stream of notifications; the SDK serves it even in JSON-response mode. Capabilities at
  that revision say ``listChanged: true`` for prompts, resources and tools because the
  method is served.
- 2025-11-25 and older clients would need a standing GET stream of a session; this server
  is stateless (no sessions), so they get no notifications and are told so
  (``listChanged`` absent in their ``initialize`` answer). They see changes on their next
  ``prompts/list`` or ``resources/list`` (both ``ttlMs: 0``).

The SDK's in-process bus sends every event to every stream. This bus is the SDK's
``SubscriptionBus`` seam with one addition: each stream belongs to the user who opened
it (the request's token), and :meth:`ChangeFeed.notify` delivers to the streams of the
given users only, so nobody learns that somebody else's private lists changed. A
stream stops receiving events when the token that opened it expires. Events stay in this
process: with several replicas, a user listening on another one is not notified (a
shared backend, e.g. Postgres LISTEN/NOTIFY, would go behind the same seam).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import anyio.lowlevel
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ServerEvent
from mcp_types import INVALID_REQUEST
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import WorkspaceMember

MAX_STREAMS_PER_USER = 8


@dataclass
class _Listener:
    user_id: uuid.UUID | None
    expires_at: float | None
    deliver: Callable[[ServerEvent], None]


class Everyone:
    """The audience of a change to something public."""


EVERYONE = Everyone()
Audience = Collection[uuid.UUID] | Everyone


class ChangeFeed:
    """A ``SubscriptionBus`` whose listeners belong to users."""

    def __init__(self) -> None:
        self._listeners: dict[object, _Listener] = {}

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        """Called by the SDK's listen handler inside the listen request: the caller is known."""
        token = get_access_token()
        user_id = _user_of(token.subject if token else None)
        if user_id is not None and sum(1 for x in self._listeners.values() if x.user_id == user_id) >= (
            MAX_STREAMS_PER_USER
        ):
            raise MCPError(INVALID_REQUEST, f"at most {MAX_STREAMS_PER_USER} open subscriptions per user")
        expires_at = float(token.expires_at) if token is not None and token.expires_at else None
        token_key = object()
        self._listeners[token_key] = _Listener(user_id, expires_at, listener)

        def unsubscribe() -> None:
            self._listeners.pop(token_key, None)

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        """An event for every listener (the SDK's ``ctx.notify_*``; this server sends none of those)."""
        self._deliver(self._listeners.items(), event)
        await anyio.lowlevel.checkpoint()

    def listening(self) -> frozenset[uuid.UUID]:
        """The users with an open stream on this process (cheap: the hot path asks before any query)."""
        return frozenset(x.user_id for x in self._listeners.values() if x.user_id is not None)

    async def notify(self, audience: Audience, events: Iterable[ServerEvent]) -> None:
        """Deliver ``events`` to the streams of the users in ``audience``."""
        if not self._listeners:
            return
        chosen = [
            (key, x) for key, x in self._listeners.items() if isinstance(audience, Everyone) or x.user_id in audience
        ]
        for event in events:
            self._deliver(chosen, event)
        await anyio.lowlevel.checkpoint()

    def _deliver(self, listeners: Iterable[tuple[object, _Listener]], event: ServerEvent) -> None:
        now = time.time()
        for key, listener in list(listeners):
            if listener.expires_at is not None and listener.expires_at <= now:
                self._listeners.pop(key, None)  # the token ran out: no more events on that stream
                continue
            listener.deliver(event)


def _user_of(subject: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(subject) if subject else None
    except ValueError:
        return None


LISTS_CHANGED: tuple[ServerEvent, ...] = (PromptsListChanged(), ResourcesListChanged())


def snippet_events(snippet_id: uuid.UUID, *, updated: bool) -> list[ServerEvent]:
    """The prompt and resource lists changed; with ``updated``, the snippet's own resource too."""
    return [*LISTS_CHANGED, *([ResourceUpdated(uri=f"snippet://{snippet_id}")] if updated else [])]


async def snippet_audience(
    session: AsyncSession,
    feed: ChangeFeed,
    workspace_id: uuid.UUID,
    creator: uuid.UUID | None,
    visibilities: Iterable[str],
) -> Audience:
    """Who could read a snippet before or after a change: everyone if it was or is public, the
    members of its workspace if shared there, else its creator. Queries only if anyone listens."""
    listening = feed.listening()
    if not listening:
        return ()
    seen = set(visibilities)
    if "public" in seen:
        return EVERYONE
    if "workspace" in seen:
        rows = await session.execute(
            select(WorkspaceMember.user_id).where(
                WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id.in_(listening)
            )
        )
        return {row[0] for row in rows}
    return {creator} if creator is not None else ()
