"""`shared-skills backup` and `restore`: the restore drill, and the refusals that keep backups honest.

The drill, on SQLite and on Postgres: a populated system (an account, a signing key made by a
running authorization server, a workspace with snippets) is backed up while the authorization
server runs; the original is then lost (on Postgres: the database and both runtime roles);
the backup is restored into an empty database and migrated; every table must hold the same
rows (count and an order-independent checksum), and the servers must start on the copy and
let the user sign in and see the workspace through a real MCP client.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from shared.backup import default_output, manifest_path
from shared.db import make_engine, session_factory, transaction
from shared.models import Snippet, User, Workspace, WorkspaceMember
from shared.settings import Settings
from tests.conftest import Database
from tests.processes import free_port, run_cli, server_process
from tests.stack import SignIn, Stack, oauth_http_client

EMAIL, PASSWORD = "ada@example.com", "correct horse battery"
WORKSPACE = "Restored Prompts"


def table_digests(url: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and a checksum of its rows that ignores their order."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            digests = {}
            for table in inspect(conn).get_table_names():
                rows = sorted(repr(tuple(row)) for row in conn.execute(text(f'select * from "{table}"')))
                digests[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
            return digests
    finally:
        engine.dispose()


def with_servers(env: dict[str, str], data_dir: Path) -> dict[str, str]:
    auth_port, mcp_port = free_port(), free_port()
    return {
        **env,
        "SKILLS_ISSUER_URL": f"http://127.0.0.1:{auth_port}",
        "SKILLS_RESOURCE_URL": f"http://127.0.0.1:{mcp_port}/mcp",
        "SKILLS_AUTH_PORT": str(auth_port),
        "SKILLS_MCP_PORT": str(mcp_port),
    }


@contextmanager
def authserver(env: dict[str, str], log: Path) -> Iterator[None]:
    with server_process(["authserver", "serve"], env, f"{env['SKILLS_ISSUER_URL']}/healthz", log):
        yield


@contextmanager
def both_servers(env: dict[str, str], data_dir: Path) -> Iterator[Stack]:
    """Both servers on a database that already holds everything (``running_stack`` migrates and adds a user)."""
    mcp_health = env["SKILLS_RESOURCE_URL"].removesuffix("/mcp") + "/healthz"
    with ExitStack() as stack:
        stack.enter_context(authserver(env, data_dir / "authserver-restored.log"))
        stack.enter_context(server_process(["mcpserver", "serve"], env, mcp_health, data_dir / "mcpserver.log"))
        yield Stack(env["SKILLS_ISSUER_URL"], env["SKILLS_RESOURCE_URL"], env, EMAIL, PASSWORD)


def populate(settings: Settings) -> None:
    """A workspace the user belongs to, with snippets, written as the administrative role."""
    engine = make_engine(settings.admin_database_url)
    try:
        with transaction(session_factory(engine)) as db:
            user = db.query(User).filter_by(email=EMAIL).one()
            workspace = Workspace(name=WORKSPACE, slug="restored-prompts", created_by=user.id)
            db.add(workspace)
            db.flush()
            db.add(WorkspaceMember(workspace_id=workspace.id, user_id=user.id, role="owner"))
            for number in range(3):
                db.add(
                    Snippet(
                        id=uuid.uuid4(),
                        workspace_id=workspace.id,
                        created_by=user.id,
                        slug=f"snippet-{number}",
                        title=f"Snippet {number} ✓",
                        body=f"Body {number}: 'quotes' and \"more\"\n",
                        tags=["drill", str(number)],
                        variables=[{"name": "x"}],
                    )
                )
    finally:
        engine.dispose()


def superuser_engine(database: Database) -> Engine:
    """The test superuser, on the maintenance database (the source database may be gone)."""
    url = make_url(database.admin_url).set(drivername="postgresql+psycopg", database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def empty_target(database: Database, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of an empty database to restore into (same role names and passwords)."""
    if database.backend == "sqlite":
        target_dir = tmp_path / "restored"
        target_dir.mkdir()
        shutil.copy(database.data_dir / "kek", target_dir / "kek")  # the key-encryption key travels beside
        yield {**database.env, "SKILLS_DATA_DIR": str(target_dir)}
        return
    name = f"skills_restored_{secrets.token_hex(4)}"
    superuser = superuser_engine(database)
    with superuser.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    env = dict(database.env)
    for key in ("SKILLS_DATABASE_URL", "SKILLS_AUTH_DATABASE_URL", "SKILLS_MCP_DATABASE_URL"):
        env[key] = make_url(env[key]).set(database=name).render_as_string(hide_password=False)
    try:
        yield env
    finally:
        with superuser.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        superuser.dispose()


def lose_the_original(database: Database) -> None:
    """On Postgres, drop the source database and its runtime roles: restore must bring the roles back."""
    if database.backend != "postgresql":
        (database.data_dir / "skills.db").unlink()
        return
    settings = database.settings()
    source = make_url(database.admin_url)
    superuser = superuser_engine(database)
    with superuser.connect() as conn:
        conn.execute(text(f'drop database "{source.database}" with (force)'))
        for role in (settings.db_auth_role, settings.db_mcp_role):
            conn.execute(text(f'drop role "{role}"'))
    superuser.dispose()


async def test_restore_drill(database: Database, tmp_path: Path) -> None:
    env = with_servers(database.env, database.data_dir)
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    added = run_cli(["authserver", "users", "add", EMAIL, "--name", "Ada", "--password-stdin"], env, stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    populate(database.settings())

    dump = tmp_path / "backups" / ("drill.sqlite3" if database.backend == "sqlite" else "drill.dump")
    with authserver(env, database.data_dir / "authserver.log"):  # makes the signing key; backs up while it runs
        made = run_cli(["shared-skills", "backup", "--output", str(dump)], env)
        assert made.returncode == 0, made.stderr
    assert "backup written" in made.stdout and "tables" in made.stdout
    assert dump.stat().st_mode & 0o777 == 0o600
    before = table_digests(database.admin_url)
    assert before["signing_keys"][0] >= 1 and before["snippets"][0] == 3 and before["users"][0] == 1

    lose_the_original(database)
    with empty_target(database, tmp_path) as target_env:
        restored = run_cli(["shared-skills", "restore", str(dump)], target_env)
        assert restored.returncode == 0, restored.stderr
        assert run_cli(["authserver", "db", "upgrade"], target_env).returncode == 0

        target_settings = Database(database.backend, target_env).settings()
        assert table_digests(target_settings.admin_database_url) == before

        again = run_cli(["shared-skills", "restore", str(dump)], target_env)
        assert again.returncode == 1 and "not empty" in again.stderr

        served = with_servers(target_env, tmp_path)
        with both_servers(served, tmp_path) as stack:
            async with oauth_http_client(stack, SignIn(stack)) as http:
                async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
                    listed = await client.call_tool("list_workspaces", {})
                    assert not listed.is_error, listed.content
                    assert WORKSPACE in json.dumps(listed.structured_content)


def test_sqlite_restore_with_force_replaces_the_database(sqlite_database: Database, tmp_path: Path) -> None:
    env = sqlite_database.env
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    dump = tmp_path / "empty.sqlite3"
    assert run_cli(["shared-skills", "backup", "-o", str(dump)], env).returncode == 0
    added = run_cli(["authserver", "users", "add", EMAIL, "--name", "Ada", "--password-stdin"], env, stdin=PASSWORD)
    assert added.returncode == 0, added.stderr

    refused = run_cli(["shared-skills", "restore", str(dump)], env)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert table_digests(sqlite_database.admin_url)["users"][0] == 1

    forced = run_cli(["shared-skills", "restore", "--force", str(dump)], env)
    assert forced.returncode == 0, forced.stderr
    assert table_digests(sqlite_database.admin_url)["users"][0] == 0


def test_backup_refuses_to_overwrite_and_names_files_by_time(sqlite_database: Database) -> None:
    settings = sqlite_database.settings()
    path = default_output(settings, datetime(2026, 11, 24, 3, 15, tzinfo=UTC))
    assert path == settings.data_dir / "backups" / "skills-20261124T031500Z.sqlite3"
    env = sqlite_database.env
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    first = run_cli(["shared-skills", "backup"], env)
    assert first.returncode == 0, first.stderr
    [written] = (sqlite_database.data_dir / "backups").iterdir()
    again = run_cli(["shared-skills", "backup", "-o", str(written)], env)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_restore_of_something_else_is_refused(sqlite_database: Database, tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    result = run_cli(["shared-skills", "restore", str(junk)], sqlite_database.env)
    assert result.returncode == 1 and "not a" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.postgres
def test_postgres_backup_refuses_a_role_under_row_level_security(postgres_database: Database, tmp_path: Path) -> None:
    env = postgres_database.env
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    as_mcp = {**env, "SKILLS_BACKUP_DATABASE_URL": env["SKILLS_MCP_DATABASE_URL"]}
    result = run_cli(["shared-skills", "backup", "-o", str(tmp_path / "partial.dump")], as_mcp)
    assert result.returncode == 1 and "BYPASSRLS" in result.stderr
    assert not (tmp_path / "partial.dump").exists()


@pytest.mark.postgres
def test_postgres_backup_without_pg_dump_says_so(postgres_database: Database, tmp_path: Path) -> None:
    env = postgres_database.env
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    dump = tmp_path / "x.dump"
    result = run_cli(["shared-skills", "backup", "-o", str(dump)], {**env, "PATH": str(Path(sys.executable).parent)})
    assert result.returncode == 1 and "pg_dump is not on PATH" in result.stderr
    assert not dump.exists() and not manifest_path(dump).exists()


@pytest.mark.postgres
def test_postgres_restore_needs_the_manifest(postgres_database: Database, tmp_path: Path) -> None:
    env = postgres_database.env
    assert run_cli(["authserver", "db", "upgrade"], env).returncode == 0
    dump = tmp_path / "x.dump"
    assert run_cli(["shared-skills", "backup", "-o", str(dump)], env).returncode == 0
    assert json.loads(manifest_path(dump).read_text())["revision"] is not None
    manifest_path(dump).unlink()
    result = run_cli(["shared-skills", "restore", "--force", str(dump)], env)
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr
