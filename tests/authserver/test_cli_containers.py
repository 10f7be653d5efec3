"""Which database URL the CLI uses, as in the compose ``migrate`` and ``authserver`` containers.

Management commands use the auth role's URL when ``SKILLS_AUTH_DATABASE_URL`` is set (the
``authserver`` container has nothing else), else the administrative one (``migrate``);
migrations and ``check`` need the administrative URL and refuse instead of silently using a
SQLite file.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg

from shared.schema import upgrade
from tests.authserver.cli_runner import Cli, one_line_error
from tests.conftest import Database

PASSWORD = "correct horse battery staple"


def owns_a_workspace(admin_url: str, user_id: str) -> None:
    """Give the user a workspace (as its owner) with one snippet they wrote."""
    workspace = uuid.uuid4()
    with psycopg.connect(admin_url) as conn:
        conn.execute(
            "insert into workspaces (id, name, slug, created_by, created_at) values (%s, 'W', 'w', %s, now())",
            (workspace, user_id),
        )
        conn.execute(
            "insert into workspace_members (workspace_id, user_id, role, created_at) values (%s, %s, 'owner', now())",
            (workspace, user_id),
        )
        conn.execute(
            "insert into snippets (id, workspace_id, created_by, slug, title, description, body, tags, visibility,"
            " variables, version, created_at, updated_at)"
            " values (gen_random_uuid(), %s, %s, 's', 'S', '', 'b', '[]', 'workspace', '[]', 1, now(), now())",
            (workspace, user_id),
        )


def test_authserver_container_manages_users_with_the_auth_role_only(postgres_database: Database) -> None:
    upgrade(postgres_database.settings())
    env = postgres_database.env
    migrate = Cli({k: v for k, v in env.items() if k != "SKILLS_AUTH_DATABASE_URL"})
    authserver = Cli({k: v for k, v in env.items() if k not in ("SKILLS_DATABASE_URL", "SKILLS_MCP_DATABASE_URL")})

    added = authserver.json("users", "add", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert [u["id"] for u in migrate.json("users", "list")] == [added["id"]]  # the same Postgres database
    assert not (Path(env["SKILLS_DATA_DIR"]) / "skills.db").exists()  # no SQLite file on the side
    owns_a_workspace(postgres_database.admin_url, added["id"])
    assert authserver.json("users", "disable", "ann@example.com")["changed"] is True

    # The auth role deletes under RLS; the foreign keys still cascade through rows it cannot see.
    deleted = authserver("users", "delete", "ann@example.com", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    with psycopg.connect(postgres_database.admin_url) as conn:
        assert conn.execute("select count(*) from workspace_members").fetchone() == (0,)
        assert conn.execute("select created_by from snippets").fetchall() == [(None,)]

    for command in (("db", "upgrade"), ("check",)):
        assert "SKILLS_DATABASE_URL" in one_line_error(authserver(*command))
