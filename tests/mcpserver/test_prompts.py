"""Snippets as MCP prompts, variables on save and render, and completion — through the real
MCP client on SQLite and Postgres."""

from __future__ import annotations

import re
import uuid

import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError
from mcp_types import Prompt, PromptReference, ResourceTemplateReference, TextContent

from mcpserver import prompts
from tests.mcpserver.harness import McpHarness, call, fails

SLASH_COMMAND = re.compile(r"^[a-z0-9_-]+$")
BRIEF = "Write a {{kind}} for {{audience}} in a {{tone}} tone.{{extra}}"
BRIEF_VARIABLES = [
    {"name": "kind", "description": "What to write"},
    {"name": "audience", "description": "Who reads it"},
    {"name": "tone", "default": "friendly"},
    {"name": "extra", "description": "Anything else", "required": False},
]


async def _workspace(client: Client, name: str) -> str:
    return str((await call(client, "create_workspace", name=name))["id"])


async def _all_prompts(client: Client) -> list[Prompt]:
    found, cursor = [], None
    while True:
        page = await client.list_prompts(cursor=cursor, cache_mode="refresh")
        found += page.prompts
        cursor = page.next_cursor
        if cursor is None:
            return found


async def test_variables_are_declared_or_inferred_and_checked_on_save(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client, "Vars")
        declared = await call(
            client, "save_snippet", workspace_id=ws, title="Brief", body=BRIEF, variables=BRIEF_VARIABLES
        )
        assert declared["variables"] == [
            {"name": "kind", "description": "What to write", "required": True, "default": None},
            {"name": "audience", "description": "Who reads it", "required": True, "default": None},
            {"name": "tone", "description": "", "required": False, "default": "friendly"},
            {"name": "extra", "description": "Anything else", "required": False, "default": None},
        ]
        # A new body without declarations: inferred, earlier descriptions kept for names still used.
        updated = await call(client, "save_snippet", id=declared["id"], body="{{kind}} about {{topic}}")
        assert updated["variables"] == [
            {"name": "kind", "description": "What to write", "required": True, "default": None},
            {"name": "topic", "description": "", "required": True, "default": None},
        ]
        inferred = await call(client, "save_snippet", workspace_id=ws, title="Plain", body="Hi {{ name }}")
        assert [v["name"] for v in inferred["variables"]] == ["name"]

        bad_name = await fails(client, "save_snippet", workspace_id=ws, title="T", body="Hi {{ user.name }}")
        assert "invalid body:" in bad_name and "\\{{" in bad_name
        undeclared = await fails(
            client, "save_snippet", workspace_id=ws, title="T", body="{{a}} {{b}}", variables=[{"name": "a"}]
        )
        assert "invalid variables:" in undeclared and "undeclared variable(s): b" in undeclared
        unused = await fails(
            client, "save_snippet", workspace_id=ws, title="T", body="{{a}}", variables=[{"name": "a"}, {"name": "z"}]
        )
        assert "not used in the body: z" in unused
        escaped = await call(client, "save_snippet", workspace_id=ws, title="Jinja", body="\\{{ user.name }}")
        assert escaped["variables"] == []


async def test_render_fills_in_literally_and_names_every_missing_variable(harness: McpHarness) -> None:
    ada = harness.add_user("ada@example.com")
    async with harness.client(ada) as client:
        ws = await _workspace(client, "Render")
        snippet = await call(
            client, "save_snippet", workspace_id=ws, title="Brief", body=BRIEF, variables=BRIEF_VARIABLES
        )
        rendered = await call(
            client, "render_snippet", id=snippet["id"], variables={"kind": "{{audience}}", "audience": "$1 \\g<0>"}
        )
        assert rendered["text"] == "Write a {{audience}} for $1 \\g<0> in a friendly tone."
        missing = await fails(client, "render_snippet", id=snippet["id"], variables={})
        assert "invalid variables: missing required variable(s): kind, audience" in missing
        assert "kind (What to write); audience (Who reads it)" in missing
        unknown = await fails(
            client, "render_snippet", id=snippet["id"], variables={"kind": "a", "audience": "b", "x": "1"}
        )
        assert "unknown variable(s): x" in unknown
        await call(client, "save_snippet", id=snippet["id"], body="Just {{kind}}.")
        old = await call(
            client, "render_snippet", id=snippet["id"], version=1, variables={"kind": "a poem", "audience": "kids"}
        )
        assert (old["version"], old["text"]) == (1, "Write a a poem for kids in a friendly tone.")


async def test_every_visible_snippet_is_a_prompt_with_a_stable_slash_command_name(
    harness: McpHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompts, "PAGE_SIZE", 3)
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(bob) as client:
        other = await _workspace(client, "Bob's place")
        await call(client, "save_snippet", workspace_id=other, title="Review", body="b", visibility="public")
        await call(client, "save_snippet", workspace_id=other, title="Hidden", body="b")
    async with harness.client(ada) as client:
        team = await _workspace(client, "Team Notes")
        for i in range(4):
            await call(client, "save_snippet", workspace_id=team, title=f"Step {i}", body="b")
        await call(client, "save_snippet", workspace_id=team, title="Brief", body=BRIEF, variables=BRIEF_VARIABLES)
        names = [p.name for p in await _all_prompts(client)]
        expected = ["team-notes_brief", *[f"team-notes_step-{i}" for i in (3, 2, 1, 0)]]
        foreign = f"ws-{uuid.UUID(other).hex[:12]}_review"
        assert names == [*expected, foreign]  # newest first, then Bob's public one; never his workspace one
        assert all(SLASH_COMMAND.match(n) for n in names)

        await call(client, "save_snippet", workspace_id=team, title="Review", body="mine")  # a second 'review'
        listed = {p.name: p for p in await _all_prompts(client)}
        assert set(listed) == {*names, "team-notes_review"}  # nobody else's name changed

        brief = listed["team-notes_brief"]
        assert (brief.title, brief.description) == ("Brief", "Brief")
        assert [(a.name, a.required, a.description) for a in brief.arguments or []] == [
            ("kind", True, "What to write"),
            ("audience", True, "Who reads it"),
            ("tone", False, "default: friendly"),
            ("extra", False, "Anything else"),
        ]


async def test_get_prompt_renders_and_asks_for_absent_optional_variables(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        team = await _workspace(client, "Team")
        await call(client, "save_snippet", workspace_id=team, title="Brief", body=BRIEF, variables=BRIEF_VARIABLES)
        await call(client, "save_snippet", workspace_id=team, title="Secret", body="s", visibility="private")
        result = await client.get_prompt("team_brief", {"kind": "memo", "audience": "{{tone}}", "extra": "  "})
        (message,) = result.messages
        assert message.role == "user" and isinstance(message.content, TextContent)
        assert message.content.text == (
            "Write a memo for {{tone}} in a friendly tone."
            "[ask the user for extra (Anything else) and use their answer here]"
        )
        with pytest.raises(MCPError) as missing:
            await client.get_prompt("team_brief", {"kind": "memo"})
        assert missing.value.code == -32602 and "missing required variable(s): audience" in missing.value.message
    async with harness.client(bob) as client:
        refusals = []
        for name in ("team_secret", "team_brief", "team_nothing", "not a name"):
            with pytest.raises(MCPError) as refused:
                await client.get_prompt(name, {})
            refusals.append((refused.value.code, refused.value.message.replace(repr(name), "N")))
        assert len(set(refusals)) == 1 and refusals[0][0] == -32602  # invisible answers like nonexistent


async def test_a_public_snippet_of_another_workspace_is_a_prompt_too(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(bob) as client:
        other = await _workspace(client, "Elsewhere")
        await call(
            client, "save_snippet", workspace_id=other, title="Greeting", body="Hello {{who}}", visibility="public"
        )
    async with harness.client(ada) as client:
        name = f"ws-{uuid.UUID(other).hex[:12]}_greeting"
        text = (await client.get_prompt(name, {"who": "Ada"})).messages[0].content
        assert isinstance(text, TextContent) and text.text == "Hello Ada"


async def test_completion_suggests_only_what_the_caller_can_see(harness: McpHarness) -> None:
    ada, bob = harness.add_user("ada@example.com"), harness.add_user("bob@example.com")
    async with harness.client(ada) as client:
        team = await _workspace(client, "Team")
        brief = await call(
            client, "save_snippet", workspace_id=team, title="Brief", body=BRIEF, variables=BRIEF_VARIABLES
        )
        secret = await call(client, "save_snippet", workspace_id=team, title="S", body="s", visibility="private")
        await call(client, "save_snippet", id=brief["id"], body="{{kind}} {{audience}} {{tone}} {{extra}} v2")

        async def values(
            ref: PromptReference | ResourceTemplateReference, name: str, value: str, **context: str
        ) -> list[str]:
            result = await client.complete(ref, {"name": name, "value": value}, context or None)
            return result.completion.values

        assert await values(PromptReference(name="team_brief"), "tone", "fr") == ["friendly"]
        assert await values(PromptReference(name="team_brief"), "tone", "x") == []
        snippet_ref = ResourceTemplateReference(uri="snippet://{id}")
        assert set(await values(snippet_ref, "id", "")) == {brief["id"], secret["id"]}
        assert await values(snippet_ref, "id", brief["id"][:8]) == [brief["id"]]
        assert await values(snippet_ref, "id", brief["id"].replace("-", "")[:10]) == [brief["id"]]
        assert await values(ResourceTemplateReference(uri="workspace://{id}"), "id", "") == [team]
        versions_ref = ResourceTemplateReference(uri="snippet://{id}/versions/{n}")
        assert await values(versions_ref, "n", "", id=brief["id"]) == ["2", "1"]
    async with harness.client(bob) as client:
        assert await values(PromptReference(name="team_brief"), "tone", "") == []
        assert await values(snippet_ref, "id", "") == []
        assert await values(ResourceTemplateReference(uri="workspace://{id}"), "id", "") == []
        assert await values(versions_ref, "n", "", id=brief["id"]) == []
