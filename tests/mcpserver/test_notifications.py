"""List-changed notifications: what each protocol era is told, and who hears of a change.

2026-07-28 clients listen with ``subscriptions/listen``; a change reaches the users who
could read the snippet before or after it, nobody else. Stateless 2025-era clients have
no stream to receive them on and are told so by the capabilities.
"""

from __future__ import annotations

import time
import uuid
from contextlib import AsyncExitStack

import anyio
from mcp.client import Client
from mcp.client.subscriptions import Subscription
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ServerEvent

from tests.mcpserver.harness import McpHarness, call

MODERN = "2026-07-28"


async def _next(subscription: Subscription, seconds: float = 5) -> ServerEvent | None:
    """The next event, or None if none comes within ``seconds``."""
    with anyio.move_on_after(seconds):
        return await subscription.__anext__()
    return None


async def _burst(subscription: Subscription) -> set[type]:
    """The kinds of event of the next burst: the first within 5 s, the rest until 0.5 s of quiet."""
    events = [await _next(subscription)]
    while (event := await _next(subscription, 0.5)) is not None:
        events.append(event)
    return {type(e) for e in events}


async def _listen(
    stack: AsyncExitStack, harness: McpHarness, user: uuid.UUID, token: str | None = None
) -> Subscription:
    client: Client = await stack.enter_async_context(harness.client(user, mode=MODERN, token=token))
    return await stack.enter_async_context(client.listen(prompts_list_changed=True, resources_list_changed=True))


async def test_capabilities_say_which_era_gets_list_changed_notifications(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada, mode=MODERN) as modern, harness.client(ada, mode="legacy") as legacy:
        now = (await modern.session.send_discover(MODERN))["capabilities"]  # server/discover, as sent
        then = legacy.server_capabilities  # the initialize answer
    assert now["prompts"]["listChanged"] is True
    assert now["resources"]["listChanged"] is True
    assert "completions" in now
    assert then.prompts is not None and not then.prompts.list_changed  # stateless: nowhere to send them


async def test_a_change_is_announced_to_exactly_the_users_who_can_see_it(harness: McpHarness) -> None:
    ada, bob, carol = (harness.add_user(f"{n}@example.com") for n in ("ada", "bob", "carol"))
    async with harness.client(ada) as client:
        team = (await call(client, "create_workspace", name="Team"))["id"]
        await call(client, "invite_to_workspace", workspace_id=team, email="bob@example.com")
    async with AsyncExitStack() as stack:
        bobs, carols = await _listen(stack, harness, bob), await _listen(stack, harness, carol)
        async with harness.client(ada) as client:
            shared = await call(client, "save_snippet", workspace_id=team, title="Shared", body="b")
            assert await _burst(bobs) == {PromptsListChanged, ResourcesListChanged}
            assert await _next(carols, 1) is None  # not a member: not told

            await call(client, "save_snippet", workspace_id=team, title="Mine", body="b", visibility="private")
            assert await _next(bobs, 1) is None  # Ada's private snippet is nobody else's business

            await call(client, "share_snippet", id=shared["id"], visibility="public")
            lists = {PromptsListChanged, ResourcesListChanged}
            assert await _burst(carols) == lists  # now everyone can see it
            await call(client, "share_snippet", id=shared["id"], visibility="private")
            assert await _burst(carols) == lists  # and it left her lists again
            assert await _burst(bobs) == lists  # (both changes)


async def test_a_stream_goes_quiet_when_its_token_expires(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        team = (await call(client, "create_workspace", name="Team"))["id"]
        await call(client, "invite_to_workspace", workspace_id=team, email="bob@example.com")
    async with AsyncExitStack() as stack:
        short = harness.token(bob, exp=int(time.time()) + 2)
        bobs = await _listen(stack, harness, bob, token=short)
        await anyio.sleep(2.5)
        async with harness.client(ada) as client:
            await call(client, "save_snippet", workspace_id=team, title="Later", body="b")
        assert await _next(bobs, 1) is None
