"""Workspace tools through the real MCP client, on SQLite and on Postgres (as the MCP role, under RLS)."""

from __future__ import annotations

from tests.mcpserver.harness import McpHarness


async def test_created_workspace_is_listed_for_its_owner_only(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        created = await client.call_tool("create_workspace", {"name": "Prompt Lab"})
        assert not created.is_error, created.content
        assert created.structured_content is not None
        assert created.structured_content["role"] == "owner"
        assert created.structured_content["slug"] == "prompt-lab"
        listed = await client.call_tool("list_workspaces", {})
        assert listed.structured_content == {"workspaces": [created.structured_content]}
    async with harness.client(bob) as client:
        listed = await client.call_tool("list_workspaces", {})
        assert listed.structured_content == {"workspaces": []}
        # A second workspace with the same name gets its own slug.
        again = await client.call_tool("create_workspace", {"name": "Prompt Lab"})
        assert again.structured_content is not None
        assert again.structured_content["slug"].startswith("prompt-lab-")


async def test_blank_workspace_name_is_a_clear_tool_error(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        result = await client.call_tool("create_workspace", {"name": "   "})
        assert result.is_error
        assert "invalid name" in result.content[0].text  # type: ignore[union-attr]


async def test_tools_are_listed_with_schemas_and_annotations(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada, mode="2026-07-28") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert {"list_workspaces", "create_workspace"} <= set(tools)
        assert tools["list_workspaces"].annotations is not None
        assert tools["list_workspaces"].annotations.read_only_hint is True
        assert tools["create_workspace"].output_schema is not None
        assert tools["create_workspace"].input_schema["required"] == ["name"]
