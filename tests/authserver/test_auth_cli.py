"""The operator CLI, run through its console-script entry point as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.authserver.conftest import create_tables

AUTHSERVER = str(Path(sys.executable).parent / "authserver")


def run(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLS_")}
    env["SKILLS_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "200"
    return subprocess.run([AUTHSERVER, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    create_tables(Settings(data_dir=tmp_path))
    return tmp_path


def test_users_add_and_list(data_dir: Path) -> None:
    added = run(
        data_dir, "users", "add", "Carol@Example.COM", "--name", "Carol", "--password-stdin", stdin="a long password\n"
    )
    assert added.returncode == 0, added.stderr
    assert "carol@example.com" in added.stdout
    assert "a long password" not in added.stdout + added.stderr

    listed = run(data_dir, "users", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    users = json.loads(listed.stdout)
    assert [(u["email"], u["name"], u["disabled"]) for u in users] == [("carol@example.com", "Carol", False)]
    assert set(users[0]) == {"id", "email", "name", "created_at", "disabled"}

    table = run(data_dir, "users", "list")
    assert table.returncode == 0 and "carol@example.com" in table.stdout and "Carol" in table.stdout


def test_duplicate_email_is_a_one_line_error(data_dir: Path) -> None:
    assert run(data_dir, "users", "add", "dave@example.com", "--password-stdin", stdin="password one\n").returncode == 0

    again = run(data_dir, "users", "add", "DAVE@example.com", "--password-stdin", stdin="password two\n")

    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [("eve@example.com", "short", "at least 8"), ("not-an-email", "long enough", "not an email")],
)
def test_bad_user_input_is_refused(data_dir: Path, email: str, password: str, message: str) -> None:
    result = run(data_dir, "users", "add", email, "--password-stdin", stdin=password + "\n")
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert json.loads(run(data_dir, "users", "list", "--json").stdout) == []


def test_password_is_never_an_argument(data_dir: Path) -> None:
    result = run(data_dir, "users", "add", "frank@example.com", "--password", "on-the-command-line")
    assert result.returncode != 0


def test_a_database_without_tables_is_a_readable_error(tmp_path: Path) -> None:
    result = run(tmp_path, "users", "list")
    assert result.returncode == 1
    assert "database error" in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade_creates_the_schema_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    result = run(data_dir, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert run(data_dir, "db", "upgrade").returncode == 0  # idempotent
    assert run(data_dir, "users", "add", "ivy@example.com", "--password-stdin", stdin="long enough\n").returncode == 0
    assert [u["email"] for u in json.loads(run(data_dir, "users", "list", "--json").stdout)] == ["ivy@example.com"]


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "db", "users"):
        assert command in result.stdout
