"""`shared-skills files list|add|remove` through the entry point, on SQLite and Postgres."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from shared.db import make_engine
from shared.models import AuditEvent
from shared.skill_rules import limits
from tests.conftest import Database
from tests.mcpserver.harness import mcp_harness
from tests.test_library_io import cli, failed, ok, seed

SNIPPET = ("platform-team", "review-the-checklist")


def listing(database: Database) -> list[str]:
    return ok(cli(database, "files", "list", *SNIPPET)).stdout.splitlines()


async def test_operators_add_replace_list_and_remove_files(database: Database, tmp_path: Path) -> None:
    with mcp_harness(database) as harness:
        assert await seed(harness) == SNIPPET[0]
    assert listing(database) == [
        "logo.png\timage/png\t10",
        "references/deep/checklist.md\ttext/markdown\t31",
        "schema.yaml\tapplication/yaml\t5",
    ]
    source = tmp_path / "steps.md"
    source.write_text("1. build\n")
    added = ok(cli(database, "files", "add", *SNIPPET, "references/steps.md", "--from", str(source)))
    assert added.stdout == "added references/steps.md (9 bytes, text/markdown) in platform-team/review-the-checklist\n"
    replaced = ok(cli(database, "files", "add", *SNIPPET, "references/steps.md", "--from", "-", stdin="2. ship\n"))
    assert replaced.stdout.startswith("replaced references/steps.md (8 bytes, text/markdown)")
    ok(
        cli(
            database, "files", "add", *SNIPPET, "data.bin", "--from", str(source), "--media-type", "Application/X-Thing"
        )
    )
    assert "references/steps.md\ttext/markdown\t8" in listing(database)
    assert "data.bin\tapplication/x-thing\t9" in listing(database)

    removed = ok(cli(database, "files", "remove", *SNIPPET, "references/steps.md"))
    assert removed.stdout == "removed references/steps.md from platform-team/review-the-checklist\n"
    assert len(listing(database)) == 4

    engine = make_engine(database.admin_url)
    with engine.connect() as conn:
        actions = conn.scalars(select(AuditEvent.action).where(AuditEvent.actor_user_id.is_(None))).all()
    engine.dispose()
    assert [a for a in actions if a.startswith("snippet.file")] == [
        "snippet.file.add",
        "snippet.file.replace",
        "snippet.file.add",
        "snippet.file.remove",
    ]


async def test_files_follow_the_servers_rules_with_clear_errors(database: Database, tmp_path: Path) -> None:
    with mcp_harness(database) as harness:
        await seed(harness)
    small = tmp_path / "small.md"
    small.write_text("x")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (limits.MAX_FILE_BYTES + 1))

    def add(path: str, source: Path = small, *args: str, snippet: tuple[str, str] = SNIPPET) -> str:
        return failed(cli(database, "files", "add", *snippet, path, "--from", str(source), *args))[-1]

    assert add("../up.md").startswith("error: '../up.md': each part of the path starts with a letter or digit")
    assert add("SKILL.md") == (
        "error: 'SKILL.md': SKILL.md is the skill itself, rendered from the snippet; choose another name"
    )
    assert add("logo.png/x.md") == "error: logo.png/x.md: logo.png is a file, so it cannot be a folder"
    assert add("LOGO.PNG") == "error: LOGO.PNG: logo.png differs only in case"
    assert (
        add("big.bin", big)
        == f"error: a file has at most {limits.MAX_FILE_BYTES} bytes ({len(big.read_bytes())} given)"
    )
    assert add("a.md", small, "--media-type", "nope") == "error: 'nope' is not a media type like text/markdown"
    assert add("a.md", tmp_path / "missing") == f"error: cannot read {tmp_path / 'missing'}: No such file or directory"
    assert add("a.md", snippet=("platform-team", "nope")) == "error: no snippet 'nope' in platform-team"
    assert add("a.md", snippet=("nowhere", "nope")) == "error: no workspace 'nowhere'"
    gone = failed(cli(database, "files", "remove", *SNIPPET, "references/none.md"))[-1]
    assert gone == "error: review-the-checklist has no file references/none.md"
    assert len(listing(database)) == 3
