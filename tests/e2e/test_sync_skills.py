"""`shared-skills sync-skills` end to end: the real servers, the command's own entry point.

The command signs in through the server's OAuth flow (its browser is tests/e2e/sync_browser.py,
opened by ``webbrowser.open`` through ``$BROWSER``, redirecting to the command's loopback
listener), reads the library through the MCP tools, and writes skill folders. The library
is changed between runs through the MCP tools as the users themselves.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
import yaml
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from shared.skill_folders import MANIFEST
from tests.conftest import Database
from tests.e2e.stacks import add_user
from tests.e2e.sync_browser import install
from tests.processes import free_port, run_cli
from tests.stack import SignIn, Stack, oauth_http_client, running_stack

BOB_PASSWORD = "another correct horse"


@dataclass
class Machine:
    """The user's machine: a home for credentials, a skills folder, and the test browser."""

    stack: Stack
    config: Path
    dest: Path
    browser_log: Path
    browser: Path

    def sync(self, *args: str, browser: str = "sign-in") -> CompletedProcess[str]:
        env = {
            "XDG_CONFIG_HOME": str(self.config),
            "BROWSER": str(self.browser),
            "SYNC_TEST_BROWSER": browser,
            "SYNC_TEST_BROWSER_LOG": str(self.browser_log),
            "SYNC_TEST_ISSUER": self.stack.issuer,
            "SYNC_TEST_EMAIL": self.stack.email,
            "SYNC_TEST_PASSWORD": self.stack.password,
            "COLUMNS": "200",
        }
        return run_cli(
            ["shared-skills", "sync-skills", "--server", self.stack.resource, "--dest", str(self.dest), *args], env
        )

    @property
    def sign_ins(self) -> int:
        return len(self.browser_log.read_text().splitlines()) if self.browser_log.exists() else 0

    def skill(self, name: str) -> tuple[dict[str, Any], str]:
        text = (self.dest / name / "SKILL.md").read_text(encoding="utf-8")
        header, _, body = text.removeprefix("---\n").partition("\n---\n")
        return yaml.safe_load(header), body

    def credentials(self) -> Path:
        (path,) = (self.config / "shared-skills" / "credentials").glob("*.json")
        return path


def ok(result: CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.strip().splitlines()


@pytest.fixture
def stack(database: Database) -> Iterator[Stack]:
    with running_stack(database) as running:
        add_user(running, "bob@example.com", BOB_PASSWORD)
        yield running


@pytest.fixture
def machine(stack: Stack, tmp_path: Path) -> Machine:
    return Machine(stack, tmp_path / "config", tmp_path / "skills", tmp_path / "browser.log", install(tmp_path))


@asynccontextmanager
async def mcp_as(stack: Stack) -> AsyncIterator[Client]:
    async with oauth_http_client(stack, SignIn(stack)) as http:
        async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
            yield client


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_sync_skills_writes_updates_and_removes_only_the_skills_it_created(
    stack: Stack, machine: Machine
) -> None:
    bob = replace(stack, email="bob@example.com", password=BOB_PASSWORD)
    async with mcp_as(stack) as ada:
        platform = await call(ada, "create_workspace", name="Platform")
        review = await call(
            ada,
            "save_snippet",
            workspace_id=platform["id"],
            title="Code review",
            body="1. Tests\n2. Names",
            description='Use before approving: "twice"',
            tags=["review"],
        )
        await call(ada, "save_snippet", workspace_id=platform["id"], title="Deploy", body="Ship it.")
        notes = await call(
            ada, "save_snippet", workspace_id=platform["id"], title="Notes", body="Mine.", visibility="private"
        )
    async with mcp_as(bob) as client:
        bobs = await call(client, "create_workspace", name="Bob Team")
        await call(
            client, "save_snippet", workspace_id=bobs["id"], title="Code review", body="Bob's way.", visibility="public"
        )
        await call(
            client, "save_snippet", workspace_id=bobs["id"], title="Secret", body="Hidden.", visibility="private"
        )

    # Someone else's skills live in the same folder; one has the name of Ada's "deploy".
    (machine.dest / "deploy").mkdir(parents=True)
    (machine.dest / "deploy" / "SKILL.md").write_text("---\nname: deploy\ndescription: mine\n---\nMine.\n")
    (machine.dest / "my-own").mkdir()
    (machine.dest / "my-own" / "SKILL.md").write_text("untouched")
    foreign = {p: p.read_bytes() for p in machine.dest.rglob("*") if p.is_file()}

    first = machine.sync()
    lines = ok(first)
    assert machine.sign_ins == 1
    assert "created       code-review" in lines
    # Same slug in a workspace Ada is not in (its slug unknown to her): named after its id.
    public_review = f"{bobs['id'][:8]}-code-review"
    assert f"created       {public_review}" in lines
    assert "created       notes" in lines
    assert "skipped       deploy  (a folder sync-skills did not create has this name)" in first.stderr
    assert lines[-1] == f"3 created, 1 skipped in {machine.dest}"
    assert not (machine.dest / "secret").exists()  # Bob's private snippet is not Ada's to see
    for path, content in foreign.items():
        assert path.read_bytes() == content

    meta, body = machine.skill("code-review")
    assert meta["name"] == "code-review" and meta["description"] == 'Use before approving: "twice"'
    assert meta["metadata"] == {
        "title": "Code review",
        "workspace": platform["slug"],
        "slug": "code-review",
        "version": "1",
        "tags": "review",
        "author": "Ada",  # the creator's display name, as list_members shows it
        "updated": review["updated_at"],
    }
    assert body == "1. Tests\n2. Names\n"
    assert machine.skill(public_review)[0]["name"] == public_review
    assert machine.skill(public_review)[0]["metadata"]["workspace"] == bobs["id"]

    # Credentials are private to the user.
    credentials = machine.credentials()
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert credentials.parent.stat().st_mode & 0o777 == 0o700
    assert (machine.config / "shared-skills").stat().st_mode & 0o777 == 0o700
    assert json.loads(credentials.read_text())["tokens"]["refresh_token"]

    # Nothing changed: nothing to do, and no second sign-in.
    assert ok(machine.sync(browser="refuse"))[-1] == f"3 unchanged, 1 skipped in {machine.dest}"

    async with mcp_as(stack) as ada:
        await call(ada, "save_snippet", id=review["id"], body="1. Tests\n2. Names\n3. Docs")
        await call(ada, "delete_snippet", id=notes["id"])
    (machine.dest / "notes" / "extra.txt").write_text("the user put this here")

    preview = ok(machine.sync("--dry-run", browser="refuse"))
    assert preview == [
        "would update  code-review",
        "would remove  notes",
        f"1 would update, 1 would remove, 1 unchanged, 1 would skip in {machine.dest} (dry run: nothing written)",
    ]
    assert machine.skill("code-review")[1] == "1. Tests\n2. Names\n"

    second = ok(machine.sync(browser="refuse"))
    assert second == [
        "updated       code-review",
        "removed       notes  (the folder stays: it holds other files)",
        f"1 updated, 1 removed, 1 unchanged, 1 skipped in {machine.dest}",
    ]
    assert machine.skill("code-review")[1] == "1. Tests\n2. Names\n3. Docs\n"
    assert machine.skill("code-review")[0]["metadata"]["version"] == "2"
    assert not (machine.dest / "notes" / "SKILL.md").exists()
    assert (machine.dest / "notes" / "extra.txt").exists()
    assert machine.sign_ins == 1

    # A skill file changed by hand is ours: the next sync puts it back.
    (machine.dest / "code-review" / "SKILL.md").write_text("edited")
    assert ok(machine.sync(browser="refuse"))[0] == "updated       code-review"
    assert machine.skill("code-review")[1] == "1. Tests\n2. Names\n3. Docs\n"

    # One workspace only: the other workspace's skill stays.
    only = ok(machine.sync("--workspace", platform["slug"], browser="refuse"))
    assert only[-1] == f"1 unchanged, 1 skipped in {machine.dest}"
    assert (machine.dest / public_review / "SKILL.md").exists()

    manifest = json.loads((machine.dest / MANIFEST).read_text())
    assert sorted(manifest["skills"]) == sorted([public_review, "code-review"])


def _error(result: CompletedProcess[str]) -> str:
    """The last line on stderr of a command that failed with status 1 (and no traceback)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


async def test_a_refused_sign_in_fails_and_an_expired_token_is_refreshed_without_the_browser(
    stack: Stack, machine: Machine
) -> None:
    error = _error(machine.sync(browser="refuse"))
    assert error.startswith("error: sign-in failed: sign-in was not completed: access_denied"), error
    assert not machine.dest.exists() or not any(machine.dest.iterdir())

    ok(machine.sync())
    assert machine.sign_ins == 2
    assert _error(machine.sync("--workspace", "nope")) == "error: you are not a member of a workspace 'nope'"

    path = machine.credentials()
    stored = json.loads(path.read_text())
    stored["expires_at"] = time.time() - 10
    path.write_text(json.dumps(stored))

    assert ok(machine.sync(browser="refuse"))[-1] == f"nothing to do in {machine.dest}"
    assert machine.sign_ins == 2
    refreshed = json.loads(path.read_text())
    assert refreshed["tokens"]["refresh_token"] != stored["tokens"]["refresh_token"]
    assert refreshed["tokens"]["access_token"] != stored["tokens"]["access_token"]
    assert refreshed["expires_at"] > time.time()


def test_an_unreachable_server_fails_with_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    result = run_cli(
        ["shared-skills", "sync-skills", "--server", url, "--dest", str(tmp_path / "skills")],
        {"XDG_CONFIG_HOME": str(tmp_path / "config"), **{k: "" for k in os.environ if k == "BROWSER"}},
    )
    assert _error(result).startswith(f"error: cannot reach {url}")
