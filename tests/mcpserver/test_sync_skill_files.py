"""``sync-skills`` keeps a skill's supporting files in line, and never touches files it did not write."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from mcp.client import Client
from mcp.shared.exceptions import MCPError

from shared.library_client import Library
from shared.skill_folders import MANIFEST, SkillsFolder
from shared.sync_skills import Change, _sync
from tests.mcpserver.harness import McpHarness, call


async def sync(client: Client, harness: McpHarness, dest: Path, dry_run: bool = False) -> list[Change]:
    changes = await _sync(Library(client), SkillsFolder(dest), harness.resource, None, dry_run)
    return [c for c in changes if c.action != "keep"]


async def test_sync_writes_updates_and_removes_supporting_files(harness: McpHarness, tmp_path: Path) -> None:
    ada = harness.add_user("ada@example.com", "Ada")
    skill = tmp_path / "deploy"
    async with harness.client(ada) as client:
        ws = (await call(client, "create_workspace", name="Ops"))["id"]
        sid = (await call(client, "save_snippet", workspace_id=ws, title="Deploy", body="Ship."))["id"]
        await call(client, "add_skill_file", id=sid, path="references/steps.md", content="1. build\n")
        await call(client, "add_skill_file", id=sid, path="references/old/notes.md", content="old")
        assert await sync(client, harness, tmp_path) == [Change("create", "deploy")]
        assert (skill / "references" / "steps.md").read_text() == "1. build\n"
        assert await sync(client, harness, tmp_path) == []

        # A file added, one changed, one removed: only the files change, the snippet does not.
        await call(client, "add_skill_file", id=sid, path="references/steps.md", content="1. build\n2. ship\n")
        await call(client, "remove_skill_file", id=sid, path="references/old/notes.md")
        await call(client, "add_skill_file", id=sid, path="mine.txt", content="from the server")
        (skill / "mine.txt").write_text("the user's own")  # not ours: left alone
        (skill / "references" / "extra.md").write_text("the user's own")
        assert await sync(client, harness, tmp_path, dry_run=True) == [Change("update", "deploy")]
        assert (skill / "references" / "old" / "notes.md").exists()
        assert await sync(client, harness, tmp_path) == [
            Change("update", "deploy", "left alone, not written by sync-skills: mine.txt")
        ]
        assert (skill / "references" / "steps.md").read_text() == "1. build\n2. ship\n"
        assert not (skill / "references" / "old").exists()
        assert (skill / "mine.txt").read_text() == "the user's own"
        files = json.loads((tmp_path / MANIFEST).read_text())["skills"]["deploy"]["files"]
        assert sorted(files) == ["references/steps.md"]

        # A file of ours edited by hand is put back.
        (skill / "references" / "steps.md").write_text("edited")
        assert await sync(client, harness, tmp_path) == [
            Change("update", "deploy", "left alone, not written by sync-skills: mine.txt")
        ]
        assert (skill / "references" / "steps.md").read_text() == "1. build\n2. ship\n"

        # The snippet deleted: our files go, the user's stay.
        await call(client, "delete_snippet", id=sid)
        assert await sync(client, harness, tmp_path) == [
            Change("remove", "deploy", "the folder stays: it holds other files")
        ]
    assert sorted(str(p.relative_to(skill)) for p in skill.rglob("*")) == [
        "mine.txt",
        "references",
        "references/extra.md",
    ]


async def test_a_server_without_the_skills_extension_has_no_files_to_sync() -> None:
    async def send_request(*_: Any) -> Any:
        raise MCPError(-32601, "Method not found")

    library = Library(SimpleNamespace(session=SimpleNamespace(send_request=send_request)))  # type: ignore[arg-type]
    assert await library.skill_files() == {}
