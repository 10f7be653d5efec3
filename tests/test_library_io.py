"""`shared-skills export` / `import` through the entry point, on SQLite and Postgres.

The library is seeded through the real MCP tools (so versions and authors are what the
server writes), exported, imported into a fresh database, and exported again: the two
exports are the same bytes. Snippet ids are not part of the format (a snippet is known by
its slug in the workspace, a person by email), and import keeps every timestamp, so
nothing differs as long as the authors have accounts on both servers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from sqlalchemy import insert, select

from shared.db import make_engine
from shared.library_io.records import InvalidRecord, from_json
from shared.models import AuditEvent, User
from tests.conftest import Database, _postgres_database
from tests.mcpserver.harness import McpHarness, call, mcp_harness
from tests.processes import run_cli


def cli(database: Database, *args: str, stdin: str | None = None) -> CompletedProcess[str]:
    env = {k: "" for k in os.environ if k.startswith("SKILLS_") and k != "SKILLS_TEST_POSTGRES_URL"}
    return run_cli(["shared-skills", *args], {**env, **database.env, "COLUMNS": "200"}, stdin=stdin)


def ok(result: CompletedProcess[str]) -> CompletedProcess[str]:
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def failed(result: CompletedProcess[str]) -> list[str]:
    """The lines on stderr of a command that failed with status 1 (and no traceback)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()


@contextmanager
def fresh(database: Database, data_dir: Path, *emails: str) -> Iterator[Database]:
    """Another empty, migrated database of the same kind, with accounts for ``emails``."""
    if database.backend == "sqlite":
        target = Database("sqlite", {"SKILLS_DATA_DIR": str(data_dir)}, data_dir)
        yield _prepared(target, emails)
    else:
        databases = _postgres_database(data_dir)
        try:
            yield _prepared(next(databases), emails)
        finally:
            databases.close()


def _prepared(database: Database, emails: tuple[str, ...]) -> Database:
    ok(run_cli(["authserver", "db", "upgrade"], database.env))
    engine = make_engine(database.admin_url)
    with engine.begin() as conn:
        for email in emails:
            conn.execute(insert(User).values(email=email, name=email.split("@")[0]))
    engine.dispose()
    return database


async def seed(harness: McpHarness) -> str:
    """A workspace with history by two authors, a private snippet and awkward text; its slug."""
    ada = harness.add_user("ada@example.com", "Ada")
    bob = harness.add_user("bob@example.com", "Bob")
    async with harness.client(ada) as client:
        workspace = await call(client, "create_workspace", name="Platform Team")
        await call(client, "invite_to_workspace", workspace_id=workspace["id"], email="bob@example.com")
    async with harness.client(bob) as client:
        review = await call(
            client,
            "save_snippet",
            workspace_id=workspace["id"],
            title='Review: "the" checklist',
            body="1. Tests\n2. Names — ünïcödé 🚀\n\n---\nnot front matter",
            description="Before approving:\nread it twice",
            tags=["review", "Checklist"],
        )
        await call(
            client, "save_snippet", workspace_id=workspace["id"], title="Bob's notes", body="mine", visibility="private"
        )
    async with harness.client(ada) as client:
        await call(client, "save_snippet", id=review["id"], body="1. Tests\n2. Names\n3. Docs", message="add docs")
        await call(client, "share_snippet", id=review["id"], visibility="public")
        await call(client, "save_snippet", workspace_id=workspace["id"], title="Commit messages", body="Imperative.")
        for path, content in FILES.items():
            await call(client, "add_skill_file", id=review["id"], path=path, **content)
    return str(workspace["slug"])


PNG = b"\x89PNG\r\n\x1a\n\x00\xff"
FILES: dict[str, dict[str, str]] = {
    "references/deep/checklist.md": {"content": "# Checklist\r\n- ünïcödé ✓\n"},
    "logo.png": {"content_base64": base64.b64encode(PNG).decode()},
    "schema.yaml": {"content": "a: 1\n"},
}


@pytest.fixture
async def seeded(database: Database) -> Any:
    with mcp_harness(database) as harness:
        yield await seed(harness)


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_jsonl_export_import_export_is_byte_identical(database: Database, seeded: str, tmp_path: Path) -> None:
    first = tmp_path / "first.jsonl"
    ok(cli(database, "export", seeded, "--output", str(first)))
    records = lines_of(first)
    assert [r["slug"] for r in records] == ["bob-s-notes", "commit-messages", "review-the-checklist"]
    review = records[2]
    assert [v["version"] for v in review["versions"]] == [1, 2, 3]
    assert [v["author"] for v in review["versions"]] == ["bob@example.com", "ada@example.com", "ada@example.com"]
    assert review["author"] == "bob@example.com" and review["visibility"] == "public"
    assert review["versions"][1]["message"] == "add docs"
    assert "id" not in review and "workspace_id" not in review
    assert review["files"] == [
        {
            "path": "logo.png",
            "media_type": "image/png",
            "content_base64": base64.b64encode(PNG).decode(),
            "sha256": hashlib.sha256(PNG).hexdigest(),
        },
        {
            "path": "references/deep/checklist.md",
            "media_type": "text/markdown",
            "text": "# Checklist\r\n- ünïcödé ✓\n",
            "sha256": hashlib.sha256("# Checklist\r\n- ünïcödé ✓\n".encode()).hexdigest(),
        },
        {
            "path": "schema.yaml",
            "media_type": "application/yaml",
            "text": "a: 1\n",
            "sha256": review["files"][2]["sha256"],
        },
    ]
    assert "files" not in records[1]

    with fresh(database, tmp_path / "target", "ada@example.com", "bob@example.com") as target:
        imported = ok(cli(target, "import", "copy", str(first), "--create", "--as", "ada@example.com", "--json"))
        assert json.loads(imported.stdout)["created"] == 3
        second = tmp_path / "second.jsonl"
        ok(cli(target, "export", "copy", "--output", str(second)))
        assert second.read_bytes() == first.read_bytes()

        # The same again through stdout and stdin.
        exported = ok(cli(target, "export", "copy"))
        assert exported.stdout.encode() == first.read_bytes()
        ok(cli(target, "import", "again", "-", "--create", "--as", "ada@example.com", stdin=exported.stdout))
        assert ok(cli(target, "export", "again")).stdout == exported.stdout

        engine = make_engine(target.admin_url)
        with engine.connect() as conn:
            audit = conn.execute(
                select(AuditEvent.action, AuditEvent.details).where(AuditEvent.action == "snippet.import")
            )
            assert [details["created"] for _, details in audit] == [3, 3]
        engine.dispose()


async def test_markdown_export_import_export_is_byte_identical(database: Database, seeded: str, tmp_path: Path) -> None:
    first = tmp_path / "first"
    result = ok(cli(database, "export", seeded, "--format", "markdown", "--output", str(first)))
    assert "exported 3 snippet(s)" in result.stderr
    assert sorted(p.name for p in first.iterdir()) == [
        "bob-s-notes.md",
        "commit-messages.md",
        "review-the-checklist.files",
        "review-the-checklist.md",
    ]
    assert (first / "review-the-checklist.files" / "logo.png").read_bytes() == PNG
    assert (first / "review-the-checklist.files" / "references" / "deep" / "checklist.md").exists()
    text = (first / "review-the-checklist.md").read_text(encoding="utf-8")
    assert text.startswith('---\ntitle: "Review: \\"the\\" checklist"\nslug: review-the-checklist\n')
    assert 'description: "Before approving:\\nread it twice"\n' in text
    assert "tags:\n  - review\n  - checklist\n" in text
    assert text.endswith("---\n1. Tests\n2. Names\n3. Docs\n")

    with fresh(database, tmp_path / "target", "ada@example.com", "bob@example.com") as target:
        ok(cli(target, "import", "copy", str(first), "--create", "--as", "ada@example.com"))
        second = tmp_path / "second"
        ok(cli(target, "export", "copy", "--format", "markdown", "--output", str(second)))
        written = sorted(p.relative_to(first) for p in first.rglob("*"))
        assert sorted(p.relative_to(second) for p in second.rglob("*")) == written
        for path in written:
            if (first / path).is_file():
                assert (second / path).read_bytes() == (first / path).read_bytes(), path
        # A Markdown file carries one version: the history starts there.
        (review,) = [
            r for r in lines_of(_export_jsonl(target, "copy", tmp_path)) if r["slug"] == "review-the-checklist"
        ]
        assert [(v["version"], v["message"]) for v in review["versions"]] == [(3, "imported from Markdown")]


def _export_jsonl(database: Database, workspace: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{workspace}.jsonl"
    ok(cli(database, "export", workspace, "--output", str(path)))
    return path


def good_record(slug: str = "deploy", **changes: Any) -> dict[str, Any]:
    state = {
        "title": "Deploy",
        "description": "",
        "body": "Ship {{service}} to {{env}}.",
        "tags": ["ops"],
        "visibility": "workspace",
        "variables": [{"name": "service", "description": "What to ship"}, {"name": "env", "default": "staging"}],
    }
    record = {
        "slug": slug,
        **state,
        "version": 1,
        "author": "ada@example.com",
        "created_at": "2026-01-02T03:04:05+00:00",
        "updated_at": "2026-01-02T03:04:05+00:00",
        "versions": [
            {
                "version": 1,
                **state,
                "author": "ada@example.com",
                "message": "",
                "created_at": "2026-01-02T03:04:05+00:00",
            }
        ],
    }
    return {**record, **changes}


async def test_import_reports_every_bad_record_and_writes_nothing(database: Database, tmp_path: Path) -> None:
    with fresh(database, tmp_path / "db", "ada@example.com") as target:
        source = tmp_path / "mixed.jsonl"
        lines = [
            json.dumps(good_record("deploy")),
            json.dumps(good_record("second", visibility="team")),
            "{not json",
            json.dumps({**good_record("third", variables=[{"name": "1x"}]), "title": ""}),
            "",
            json.dumps(good_record("deploy")),
            json.dumps(good_record("Bad Slug", body="x" * 100_001, extra=1)),
        ]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        errors = failed(cli(target, "import", "ops", str(source), "--create", "--as", "ada@example.com"))
        assert "line 2: visibility: must be one of private, workspace, public, not 'team'" in errors
        assert any(e.startswith("line 3: not JSON") for e in errors)
        assert "line 4: title: must not be empty" in errors
        assert any(e.startswith("line 4: variables: '1x' is not a variable name") for e in errors)
        assert "line 6: slug 'deploy' appears twice (first at line 1)" in errors
        assert "line 7: extra: unknown field" in errors
        assert any(e.startswith("line 7: slug:") for e in errors)
        assert "line 7: body: at most 100000 characters, not 100001" in errors
        assert errors[-1] == "error: 5 of 6 record(s) cannot be imported; nothing was imported"

        missing = failed(cli(target, "export", "ops"))
        assert missing == ["error: no workspace 'ops'"]  # not even the workspace was created


async def test_import_on_conflict_fails_skips_or_replaces(database: Database, tmp_path: Path) -> None:
    with fresh(database, tmp_path / "db", "ada@example.com") as target:
        first = tmp_path / "first.jsonl"
        first.write_text(json.dumps(good_record("deploy")) + "\n" + json.dumps(good_record("rollback")) + "\n")
        ok(cli(target, "import", "ops", str(first), "--create", "--as", "ada@example.com"))

        changed = good_record("deploy", title="Deploy v2", version=2)
        changed["versions"] = [
            *good_record()["versions"],
            {**changed["versions"][0], "version": 2, "title": "Deploy v2"},
        ]
        second = tmp_path / "second.jsonl"
        second.write_text(json.dumps(changed) + "\n" + json.dumps(good_record("new-one")) + "\n")

        errors = failed(cli(target, "import", "ops", str(second)))
        assert errors == [
            "deploy: the slug is already used in ops (see --on-conflict skip|replace)",
            "error: 1 snippet(s) already exist; nothing was imported",
        ]
        dry = ok(cli(target, "import", "ops", str(second), "--dry-run", "--on-conflict", "skip", "--json"))
        assert json.loads(dry.stdout)["dry_run"]
        skipped = ok(cli(target, "import", "ops", str(second), "--on-conflict", "skip"))
        assert skipped.stdout.strip() == "imported 1 snippet(s) into ops: 1 new, 0 replaced, 1 skipped"
        replaced = ok(cli(target, "import", "ops", str(second), "--on-conflict", "replace", "--json"))
        assert json.loads(replaced.stdout) | {"credited_to_you": []} == {
            "workspace": "ops",
            "created": 0,
            "replaced": 2,  # new-one came in with the skipping import
            "skipped": 0,
            "credited_to_you": [],
            "dry_run": False,
        }
        exported = {r["slug"]: r for r in lines_of(_export_jsonl(target, "ops", tmp_path))}
        assert sorted(exported) == ["deploy", "new-one", "rollback"]
        assert exported["deploy"]["title"] == "Deploy v2" and len(exported["deploy"]["versions"]) == 2
        assert exported["deploy"]["variables"] == good_record()["variables"]


async def test_authors_without_an_account_need_and_are_credited_to_the_operator(
    database: Database, tmp_path: Path
) -> None:
    with fresh(database, tmp_path / "db", "ada@example.com") as target:
        source = tmp_path / "by-carol.jsonl"
        record = good_record("carols", author="carol@example.com")
        record["versions"][0]["author"] = "carol@example.com"
        source.write_text(json.dumps(record) + "\n")

        assert failed(cli(target, "import", "ops", str(source), "--create")) == [
            "error: no account for carol@example.com: create them first, or give --as YOUR-EMAIL to be credited "
            "with their snippets"
        ]
        assert failed(cli(target, "import", "ops", str(source), "--create", "--as", "nobody@example.com")) == [
            "error: no account 'nobody@example.com' (--as names your own account on this server)"
        ]
        result = ok(cli(target, "import", "ops", str(source), "--create", "--as", "ada@example.com"))
        assert "credited to ada@example.com: snippets by carol@example.com" in result.stdout
        (exported,) = lines_of(_export_jsonl(target, "ops", tmp_path))
        assert exported["author"] == exported["versions"][0]["author"] == "ada@example.com"


def test_hand_written_markdown_is_read_and_bad_files_are_named(sqlite_database: Database, tmp_path: Path) -> None:
    with fresh(sqlite_database, tmp_path / "db", "ada@example.com") as target:
        folder = tmp_path / "notes"
        folder.mkdir()
        (folder / "deploy-steps.md").write_text(
            "---\ntitle: Deploy steps\ntags: [ops, deploy]\nupdated_at: 2026-03-04 05:06:07+00:00\n---\n"
            "# Deploy\n\nRun it.\n"
        )
        (folder / "README.txt").write_text("not a snippet")
        ok(cli(target, "import", "ops", str(folder), "--create", "--as", "ada@example.com"))
        (record,) = lines_of(_export_jsonl(target, "ops", tmp_path))
        assert (record["slug"], record["title"], record["tags"], record["body"]) == (
            "deploy-steps",
            "Deploy steps",
            ["ops", "deploy"],
            "# Deploy\n\nRun it.",
        )
        assert record["updated_at"] == "2026-03-04T05:06:07+00:00"
        assert record["author"] == "ada@example.com"  # no author: credited to the operator (--as)

        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "a.md").write_text("no front matter\n")
        (bad / "b.md").write_text("---\ntitle: B\nvisibility: everyone\ncolour: red\n---\nbody\n")
        (bad / "c.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
        errors = failed(cli(target, "import", "more", str(bad), "--create", "--as", "ada@example.com"))
        assert errors == [
            "a.md: no front matter: the file must start with a line '---'",
            "b.md: colour: unknown front matter field",
            "b.md: visibility: must be one of private, workspace, public, not 'everyone'",
            errors[3],
            "error: 3 of 3 record(s) cannot be imported; nothing was imported",
        ]
        assert errors[3].startswith("c.md: the front matter is not valid YAML")


def test_export_refuses_unknown_workspaces_and_non_empty_folders(sqlite_database: Database, tmp_path: Path) -> None:
    with fresh(sqlite_database, tmp_path / "db") as target:
        assert failed(cli(target, "export", "nope")) == ["error: no workspace 'nope'"]
        occupied = tmp_path / "occupied"
        occupied.mkdir()
        (occupied / "keep.txt").write_text("mine")
        assert failed(cli(target, "export", "nope", "--format", "markdown", "--output", str(occupied))) == [
            f"error: {occupied} is not an empty folder: choose a new or empty one"
        ]
        assert failed(cli(target, "import", "x", str(tmp_path / "missing.jsonl"))) == [
            f"error: {tmp_path / 'missing.jsonl'} does not exist"
        ]


def test_a_record_lists_every_problem_at_once() -> None:
    with pytest.raises(InvalidRecord) as raised:
        from_json({**good_record(), "tags": ["Upper", "ok", "ok"], "version": 0, "created_at": "yesterday"})
    assert raised.value.reasons == [
        "tags: 'Upper' is not a lower-case, trimmed, non-empty tag",
        "tags: a tag appears twice",
        "version: must be a whole number from 1",
        "created_at: must be an ISO 8601 time with a UTC offset",
    ]


def test_a_records_files_follow_the_servers_path_and_limit_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.skill_rules import limits

    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 4)

    def file(path: str, text: str = "x", **changes: Any) -> dict[str, Any]:
        sha = hashlib.sha256(text.encode()).hexdigest()
        return {"path": path, "media_type": "text/markdown", "text": text, "sha256": sha, **changes}

    bad = [
        file("../up.md"),
        file("SKILL.md"),
        file("a.md"),
        file("a.md/b.md"),
        file("A.MD"),
        file("big.md", "12345"),
        file("sum.md", sha256="0" * 64),
        file("both.md", content_base64="eA=="),
        file("type.md", media_type="Not A Type"),
    ]
    with pytest.raises(InvalidRecord) as raised:
        from_json({**good_record(), "files": bad})
    assert raised.value.reasons == [
        "files[6].sha256: does not match the content",
        "files[7]: give text or content_base64, not both",
        "files: '../up.md': each part of the path starts with a letter or digit and holds only letters, digits,"
        " '.', '_' and '-' (like references/checklist.md)",
        "files: 'SKILL.md': SKILL.md is the skill itself, rendered from the snippet; choose another name",
        "files: a.md/b.md: a.md is a file, so it cannot be a folder",
        "files: A.MD: a.md differs only in case",
        "files: big.md: a file has at most 4 bytes, not 5",
        "files: type.md: 'Not A Type' is not a media type like text/markdown",
    ]
    record = from_json({**good_record(), "files": [file("b.md"), file("a/b.md")]})
    assert [f.path for f in record.files] == ["a/b.md", "b.md"]
