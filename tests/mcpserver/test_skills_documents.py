"""A skill loaded over MCP is the skill ``sync-skills`` writes: the same ``SKILL.md`` bytes.

``sync-skills`` runs here for real (its sync step, through the official client with a
bearer token instead of the browser sign-in) into a temporary skills folder; every file it
writes must equal what ``resources/read`` serves, and the listing's digest and size must
describe exactly those bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from mcp_types import TextResourceContents

from shared.library_client import Library
from shared.skill_folders import SkillsFolder
from shared.sync_skills import _sync
from tests.mcpserver.harness import McpHarness, call
from tests.mcpserver.skills_client import list_all_skills


async def test_served_skill_md_is_byte_for_byte_what_sync_skills_writes(harness: McpHarness, tmp_path: Path) -> None:
    ada = harness.add_user("ada@example.com", "Ada")
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Platform Team"))["id"]
        await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title='Review: "quoted" & unicode — ✓',
            body="# Review\r\n\r\nCheck {{language}} code.\n\n---\nnot front matter\n",
            description="Use when: reviewing a pull request.",
            tags=["review", "yes", "42"],
        )
        await call(client, "save_snippet", workspace_id=ws, title="Stand-up", body="Yesterday, today, blockers")
        await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title="Long",
            body="b",
            slug="an-unusually-long-snippet-slug-that-goes-past-the-sixty-four-character-limit",
        )
        await _sync(Library(client), SkillsFolder(tmp_path), harness.resource, None, False)
        entries, _ = await list_all_skills(client)
        assert len(entries) == 3
        for entry in entries:
            name = entry["frontmatter"]["name"]
            served = (await client.read_resource(entry["uri"])).contents[0]
            assert isinstance(served, TextResourceContents)
            data = served.text.encode()
            assert (tmp_path / name / "SKILL.md").read_bytes() == data, name
            skill_md = entry["resources"][0]
            assert skill_md == {
                "uri": entry["uri"],
                "digest": f"sha256:{hashlib.sha256(data).hexdigest()}",
                "size": len(data),
            }
            assert entry["frontmatter"] == yaml.safe_load(served.text.split("---\n")[1])
