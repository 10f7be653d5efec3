"""Member tools on both databases: invitations (pending or at once), roles, removal, leaving, the last owner."""

from __future__ import annotations

import asyncio
import uuid

from tests.mcpserver.harness import McpHarness, call, fails, text_of


async def _team(harness: McpHarness) -> tuple[uuid.UUID, uuid.UUID, str]:
    """Ada owns a workspace that Bob is a member of."""
    ada, bob = harness.add_user("ada@example.com", "Ada"), harness.add_user("bob@example.com", "Bob")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Team"))["id"]
        await call(client, "invite_to_workspace", workspace_id=ws, email="Bob@Example.com")
    return ada, bob, ws


async def test_invitation_answers_the_same_with_or_without_an_account(harness: McpHarness) -> None:
    ada, _, ws = await _team(harness)
    async with harness.client(ada) as client:
        existing = await client.call_tool("invite_to_workspace", {"workspace_id": ws, "email": "bob@example.com"})
        missing = await client.call_tool("invite_to_workspace", {"workspace_id": ws, "email": "carol@example.com"})
        assert text_of(existing).replace("bob", "X") == text_of(missing).replace("carol", "X")
        assert existing.structured_content == {**(missing.structured_content or {}), "email": "bob@example.com"}
        members = await call(client, "list_members", workspace_id=ws)
        assert [(m["name"], m["role"]) for m in members["members"]] == [("Ada", "owner"), ("Bob", "member")]


async def test_pending_invitation_is_joined_when_the_account_is_created(harness: McpHarness) -> None:
    ada, _, ws = await _team(harness)
    async with harness.client(ada) as client:
        await call(client, "invite_to_workspace", workspace_id=ws, email="carol@example.com", role="owner")
    carol = harness.add_user("Carol@example.com", "Carol")
    async with harness.client(carol) as client:
        listed = await call(client, "list_workspaces")
        assert [(w["id"], w["role"]) for w in listed["workspaces"]] == [(ws, "owner")]


async def test_only_owners_manage_members(harness: McpHarness) -> None:
    ada, bob, ws = await _team(harness)
    dave = harness.add_user("dave@example.com")
    async with harness.client(bob) as client:
        for tool, arguments in [
            ("invite_to_workspace", {"email": "x@example.com"}),
            ("remove_member", {"user_id": str(ada)}),
            ("set_member_role", {"user_id": str(bob), "role": "owner"}),
        ]:
            assert "permission denied: only owners" in await fails(client, tool, workspace_id=ws, **arguments)
    async with harness.client(dave) as client:  # not a member: the workspace does not exist for him
        assert "not found: no workspace" in await fails(client, "list_members", workspace_id=ws)
        assert "not found: no workspace" in await fails(
            client, "invite_to_workspace", workspace_id=ws, email="x@example.com"
        )
        assert "not found: no workspace" in await fails(client, "leave_workspace", workspace_id=ws)


async def test_roles_change_and_the_last_owner_stays(harness: McpHarness) -> None:
    ada, bob, ws = await _team(harness)
    async with harness.client(ada) as client:
        for tool, arguments in [
            ("leave_workspace", {}),
            ("set_member_role", {"user_id": str(ada), "role": "member"}),
            ("remove_member", {"user_id": str(ada)}),
        ]:
            assert "conflict: a workspace must keep at least one owner" in await fails(
                client, tool, workspace_id=ws, **arguments
            )
        promoted = await call(client, "set_member_role", workspace_id=ws, user_id=str(bob), role="owner")
        assert (promoted["name"], promoted["role"]) == ("Bob", "owner")
        await call(client, "leave_workspace", workspace_id=ws)
        assert (await call(client, "list_workspaces"))["workspaces"] == []
    async with harness.client(bob) as client:
        assert "conflict" in await fails(client, "leave_workspace", workspace_id=ws)
        members = await call(client, "list_members", workspace_id=ws)
        assert [(m["name"], m["role"]) for m in members["members"]] == [("Bob", "owner")]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(harness: McpHarness) -> None:
    ada, bob, ws = await _team(harness)
    async with harness.client(ada) as client:
        await call(client, "set_member_role", workspace_id=ws, user_id=str(bob), role="owner")
    for _ in range(3):
        async with harness.client(ada) as as_ada, harness.client(bob) as as_bob:
            results = await asyncio.gather(
                as_ada.call_tool("set_member_role", {"workspace_id": ws, "user_id": str(bob), "role": "member"}),
                as_bob.call_tool("set_member_role", {"workspace_id": ws, "user_id": str(ada), "role": "member"}),
            )
            assert sorted(r.is_error for r in results) == [False, True], [text_of(r) for r in results]
            members = await call(as_ada, "list_members", workspace_id=ws)
            owners = [m["user_id"] for m in members["members"] if m["role"] == "owner"]
            assert len(owners) == 1
            # Back to two owners for the next round.
            owner_client = as_ada if owners == [str(ada)] else as_bob
            other = bob if owners == [str(ada)] else ada
            await call(owner_client, "set_member_role", workspace_id=ws, user_id=str(other), role="owner")


async def test_remove_by_email_removes_the_member_and_cancels_pending_invitations(harness: McpHarness) -> None:
    ada, bob, ws = await _team(harness)
    async with harness.client(ada) as client:
        await call(client, "invite_to_workspace", workspace_id=ws, email="carol@example.com")
        member = await client.call_tool("remove_member", {"workspace_id": ws, "email": "bob@example.com"})
        pending = await client.call_tool("remove_member", {"workspace_id": ws, "email": "carol@example.com"})
        assert text_of(member).replace("bob", "X") == text_of(pending).replace("carol", "X")
        members = await call(client, "list_members", workspace_id=ws)
        assert [m["name"] for m in members["members"]] == ["Ada"]
        assert "invalid user_id" in await fails(client, "remove_member", workspace_id=ws)
        assert "not found: no member" in await fails(client, "remove_member", workspace_id=ws, user_id=str(bob))
    carol = harness.add_user("carol@example.com")
    async with harness.client(carol) as client:  # the cancelled invitation does not join her
        assert (await call(client, "list_workspaces"))["workspaces"] == []
    async with harness.client(bob) as client:
        assert "not found" in await fails(client, "list_members", workspace_id=ws)
