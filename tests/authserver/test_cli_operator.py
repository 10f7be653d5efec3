"""``authserver clients|keys|db|check``: the operator's view of clients, keys and the deployment."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest

from authserver.keys import SigningKeys
from shared.db import make_engine, session_factory, transaction
from shared.models import OAuthClient, utcnow
from shared.schema import upgrade
from tests.authserver.cli_runner import Cli, one_line_error
from tests.conftest import Database


@pytest.fixture
def cli(sqlite_database: Database) -> Cli:
    upgrade(sqlite_database.settings())
    return Cli(sqlite_database.env)


def add_clients(database: Database) -> None:
    """An old unused registration, an old used one, and a fresh one."""
    engine = make_engine(database.admin_url)
    old = utcnow() - timedelta(days=10)
    with transaction(session_factory(engine)) as db:
        db.add(OAuthClient(client_id="old-unused", client_metadata={"client_name": "Old"}, created_at=old))
        db.add(OAuthClient(client_id="old-used", client_metadata={}, created_at=old, last_used_at=utcnow()))
        db.add(OAuthClient(client_id="fresh", client_metadata={"client_name": "Fresh"}))
    engine.dispose()


def test_clients_list_show_prune_delete(cli: Cli, sqlite_database: Database) -> None:
    add_clients(sqlite_database)
    assert {c["client_id"] for c in cli.json("clients", "list")} == {"old-unused", "old-used", "fresh"}
    assert cli.json("clients", "show", "fresh")["name"] == "Fresh"
    assert "no client with id nope" in one_line_error(cli("clients", "show", "nope"))

    assert cli.json("clients", "prune", "--older-than", "7") == {"deleted": 1}
    assert {c["client_id"] for c in cli.json("clients", "list")} == {"old-used", "fresh"}

    assert cli("clients", "delete", "fresh", stdin="n\n").returncode == 1
    assert cli.json("clients", "delete", "fresh", "--yes") == {"client_id": "fresh", "deleted": True}
    table = cli("clients", "list")
    assert table.returncode == 0 and "old-used" in table.stdout and "fresh" not in table.stdout
    audited = [(e["action"], e["client_id"], e["details"]) for e in cli.json("audit", "--action", "client.delete")]
    assert audited == [("client.delete", "fresh", {"via": "cli"})]
    assert cli.json("audit", "--action", "client.prune")[0]["details"] == {"deleted": 1, "via": "cli"}


def test_keys_list_rotate_retire(cli: Cli, sqlite_database: Database) -> None:
    settings = sqlite_database.settings()
    engine = make_engine(settings.admin_database_url)
    SigningKeys(session_factory(engine), settings).ensure_active_key()
    engine.dispose()
    (first,) = cli.json("keys", "list")
    assert first["state"] == "active"

    kept = cli.json("keys", "rotate", "--if-older-than", "30")
    assert kept == {"rotated": False}
    rotated = cli.json("keys", "rotate")
    assert rotated["rotated"] is True and rotated["active"]["kid"] != first["kid"]
    states = {k["kid"]: k["state"] for k in cli.json("keys", "list")}
    assert states[first["kid"]] == "retiring" and states[rotated["active"]["kid"]] == "active"

    refused = cli("keys", "retire", rotated["active"]["kid"])
    assert "active key" in one_line_error(refused)
    assert cli.json("keys", "retire", first["kid"], "--force")["retired"] is True
    trail = [(e["action"], e["target"]) for e in cli.json("audit")]
    assert trail == [
        ("key.retire", first["kid"]),
        ("key.rotate", rotated["active"]["kid"]),
        ("key.create", first["kid"]),
    ]


def test_check_passes_on_a_migrated_sqlite_database(cli: Cli) -> None:
    result = cli("check")
    assert result.returncode == 0, result.stderr
    assert cli.json("check") == {"ok": True, "problems": []}


def test_check_lists_every_problem(sqlite_database: Database) -> None:
    cli = Cli(
        {
            **sqlite_database.env,
            "SKILLS_ISSUER_URL": "http://auth.example.com",
            "SKILLS_RESOURCE_URL": "https://skills.example.com",
        }
    )
    result = cli("check", "--json")
    assert result.returncode == 1
    problems = "\n".join(json.loads(result.stdout)["problems"])
    assert "issuer_url http://auth.example.com must use https" in problems
    assert "resource_url https://skills.example.com has no path" in problems
    assert "no schema" in problems and "authserver db upgrade" in problems

    human = cli("check")
    assert human.returncode == 1 and human.stderr.count("problem:") == 3


def test_check_on_postgres_finds_rls_gaps_and_powerful_roles(postgres_database: Database) -> None:
    upgrade(postgres_database.settings())
    cli = Cli(postgres_database.env)
    assert cli.json("check") == {"ok": True, "problems": []}

    settings = postgres_database.settings()
    with psycopg.connect(postgres_database.admin_url, autocommit=True) as conn:
        conn.execute("create table public.added_later (id int)")
        conn.execute(f'alter role "{settings.db_mcp_role}" bypassrls')
    result = cli("check", "--json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert any("table added_later" in p for p in problems)
    assert any(settings.db_mcp_role in p and "BYPASSRLS" in p for p in problems)
    with psycopg.connect(postgres_database.admin_url, autocommit=True) as conn:
        conn.execute(f'alter role "{settings.db_mcp_role}" nobypassrls')
        conn.execute("drop table public.added_later")


def test_db_upgrade_reports_the_revision(sqlite_database: Database) -> None:
    cli = Cli(sqlite_database.env)
    assert cli("check").returncode == 1  # not migrated yet
    revision = cli.json("db", "upgrade")["revision"]
    assert revision and cli.json("db", "upgrade")["revision"] == revision
    assert cli("check").returncode == 0


def test_help_lists_every_command_group(cli: Cli) -> None:
    result = cli("--help")
    for group in ("serve", "db", "users", "clients", "keys", "tokens", "sessions", "audit", "check"):
        assert group in result.stdout
