"""A skill loaded over MCP is the skill ``sync-skills`` writes: the same ``SKILL.md`` bytes.

``sync-skills`` runs here for real (its sync step, through the official client with a
bearer token instead of the browser sign-in) into a temporary skills folder; every file it
writes, ``SKILL.md`` and every supporting file, must equal what ``resources/read`` serves,
and the listing's digest and size must describe exactly those bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

import yaml
from mcp.client import Client
from mcp_types import BlobResourceContents, TextResourceContents
from sqlalchemy import update

from shared.db import make_engine
from shared.library_client import Library
from shared.models import User
from shared.skill_folders import MANIFEST, SkillsFolder
from shared.sync_skills import _sync
from tests.mcpserver.harness import McpHarness, call
from tests.mcpserver.skills_client import list_all_skills


async def test_served_skill_md_is_byte_for_byte_what_sync_skills_writes(harness: McpHarness, tmp_path: Path) -> None:
    ada = harness.add_user("ada@example.com", "Ada: the creator")  # YAML needs quotes for these names
    bob = harness.add_user("bob@example.com", 'Bob "B" O\'Brien: ✓')
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
        standup = await call(
            client, "save_snippet", workspace_id=ws, title="Stand-up", body="Yesterday, today, blockers"
        )
        for path, content in FILES.items():
            await call(client, "add_skill_file", id=standup["id"], path=path, **content)
        await call(
            client,
            "save_snippet",
            workspace_id=ws,
            title="Long",
            body="b",
            slug="an-unusually-long-snippet-slug-that-goes-past-the-sixty-four-character-limit",
        )
        await call(client, "invite_to_workspace", workspace_id=ws, email="bob@example.com")
        async with harness.client(bob) as bobs:
            await call(bobs, "save_snippet", workspace_id=ws, title="Bob's", body="by Bob")
        await _sync(Library(client), SkillsFolder(tmp_path), harness.resource, None, False)
        await _same_as_served(client, tmp_path, authors={"Ada: the creator", 'Bob "B" O\'Brien: ✓'})
        # A member renamed: the author in SKILL.md changes, and the next sync writes it again.
        rename(harness, bob, "Robert")
        await _sync(Library(client), SkillsFolder(tmp_path), harness.resource, None, False)
        await _same_as_served(client, tmp_path, authors={"Ada: the creator", "Robert"})
        written = sorted(str(p.relative_to(tmp_path / "stand-up")) for p in (tmp_path / "stand-up").rglob("*.*"))
        assert written == sorted(["SKILL.md", *FILES])
        manifest = json.loads((tmp_path / MANIFEST).read_text())
        assert sorted(manifest["skills"]["stand-up"]["files"]) == sorted(FILES)


def rename(harness: McpHarness, user: uuid.UUID, name: str) -> None:
    engine = make_engine(harness.settings.admin_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(update(User).where(User.id == user).values(name=name))
    finally:
        engine.dispose()


async def _same_as_served(client: Client, tmp_path: Path, authors: set[str]) -> None:
    """Every skill sync-skills wrote is the served bytes, and the listing describes them."""
    entries, _ = await list_all_skills(client)
    assert len(entries) == 4
    assert {e["frontmatter"]["metadata"]["author"] for e in entries} == authors
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
        for resource in entry["resources"][1:]:
            path = resource["uri"].removeprefix(entry["uri"].removesuffix("SKILL.md"))
            contents = (await client.read_resource(resource["uri"])).contents[0]
            if isinstance(contents, BlobResourceContents):
                data = base64.b64decode(contents.blob)
            else:
                data = contents.text.encode()
            assert (tmp_path / name / path).read_bytes() == data, path
            assert resource["digest"] == f"sha256:{hashlib.sha256(data).hexdigest()}"
            assert resource["size"] == len(data)


FILES = {
    "references/checklist.md": {"content": "# Checklist\r\n- ✓ tests\n"},
    "templates/deep/email.txt": {"content": "Dear {{name}},\n"},
    "logo.png": {"content_base64": base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\xff").decode()},
}
