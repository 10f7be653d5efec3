"""``authserver users|sessions|tokens``: accounts and what ends their access.

On SQLite (each call starts a process, so these stay few); the auth role on Postgres is
exercised by ``test_cli_containers.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from authserver.hashing import new_secret, secret_hash
from shared.db import make_engine, session_factory
from shared.models import AuditEvent, BrowserSession, GrantRevocation, OAuthClient, RefreshToken, User, utcnow
from shared.schema import upgrade
from tests.authserver.cli_runner import Cli, one_line_error
from tests.conftest import Database

PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(sqlite_database: Database) -> Cli:
    upgrade(sqlite_database.settings())
    return Cli(sqlite_database.env)


@pytest.fixture
def admin(sqlite_database: Database) -> Iterator[Session]:
    """A session as the owner of the tables, to seed and inspect what the CLI changed."""
    engine = make_engine(sqlite_database.admin_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def add(cli: Cli, email: str, name: str = "") -> dict[str, str]:
    data: dict[str, str] = cli.json("users", "add", email, "--name", name, "--password-stdin", stdin=PASSWORD + "\n")
    return data


def seed_access(admin: Session, user_id: str, client_id: str = "client-1") -> None:
    """A browser session and a live refresh token for ``client_id``."""
    later = utcnow() + timedelta(days=1)
    with admin.begin():
        if admin.get(OAuthClient, client_id) is None:
            admin.add(OAuthClient(client_id=client_id, client_metadata={"client_name": "Editor"}))
            admin.flush()
        uid = uuid.UUID(user_id)
        admin.add(BrowserSession(id_hash=secret_hash(new_secret()), user_id=uid, csrf_token="t", expires_at=later))
        admin.add(
            RefreshToken(
                token_hash=secret_hash(new_secret()),
                family_id=uuid.uuid4(),
                client_id=client_id,
                user_id=uid,
                resource="r",
                expires_at=later,
                family_expires_at=later,
            )
        )


def access_of(admin: Session, user_id: str) -> tuple[int, int, bool]:
    """(browser sessions, live refresh tokens, tokens_valid_after set) of a user."""
    admin.expire_all()
    with admin.begin():
        uid = uuid.UUID(user_id)
        sessions = len(admin.scalars(select(BrowserSession).where(BrowserSession.user_id == uid)).all())
        live = admin.scalars(select(RefreshToken).where(RefreshToken.user_id == uid, RefreshToken.revoked_at.is_(None)))
        user = admin.get(User, uid)
        return sessions, len(live.all()), user is not None and user.tokens_valid_after is not None


def test_show_disable_enable(cli: Cli, admin: Session) -> None:
    user = add(cli, "Ann@Example.com", "Ann")
    seed_access(admin, user["id"])

    shown = cli.json("users", "show", "ann@example.com")
    assert shown["email"] == "ann@example.com" and shown["browser_sessions"] == 1
    assert shown["active_refresh_tokens"] == 1 and shown["disabled"] is False
    table = cli("users", "show", "ann@example.com")
    assert table.returncode == 0 and "ann@example.com" in table.stdout

    disabled = cli("users", "disable", "ann@example.com")
    assert disabled.returncode == 0 and "disabled ann@example.com" in disabled.stdout
    assert access_of(admin, user["id"]) == (0, 0, True)
    assert cli.json("users", "show", "ann@example.com")["disabled"] is True
    assert cli.json("users", "disable", "ann@example.com")["changed"] is False  # idempotent

    assert cli.json("users", "enable", "ann@example.com")["changed"] is True
    assert cli.json("users", "show", "ann@example.com")["disabled"] is False


def test_set_password_reads_stdin_and_ends_access(cli: Cli, admin: Session) -> None:
    user = add(cli, "ben@example.com")
    seed_access(admin, user["id"])
    with admin.begin():
        before = admin.scalar(select(User.password_hash).where(User.email == "ben@example.com"))

    weak = cli("users", "set-password", "ben@example.com", "--password-stdin", stdin="password1\n")
    assert "too common" in one_line_error(weak)

    changed = cli("users", "set-password", "ben@example.com", "--password-stdin", stdin="a brand new passphrase\n")
    assert changed.returncode == 0, changed.stderr
    assert "a brand new passphrase" not in changed.stdout + changed.stderr
    assert access_of(admin, user["id"]) == (0, 0, True)
    with admin.begin():
        assert admin.scalar(select(User.password_hash).where(User.email == "ben@example.com")) != before


def test_delete_asks_unless_yes_and_cascades(cli: Cli, admin: Session) -> None:
    user = add(cli, "cat@example.com")
    seed_access(admin, user["id"])
    assert cli("users", "delete", "cat@example.com", stdin="n\n").returncode == 1
    assert cli.json("users", "show", "cat@example.com")["id"] == user["id"]

    deleted = cli("users", "delete", "cat@example.com", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert access_of(admin, user["id"]) == (0, 0, False)
    assert cli.json("users", "list") == []


def test_sessions_revoke_ends_browser_sessions_only(cli: Cli, admin: Session) -> None:
    user = add(cli, "dan@example.com")
    seed_access(admin, user["id"])
    result = cli.json("sessions", "revoke", "--user", "DAN@example.com")
    assert result == {"email": "dan@example.com", "sessions_ended": 1}
    assert access_of(admin, user["id"]) == (0, 1, False)


def test_tokens_revoke_one_client_or_all(cli: Cli, admin: Session) -> None:
    user = add(cli, "eve@example.com")
    seed_access(admin, user["id"], "client-1")
    seed_access(admin, user["id"], "client-2")

    one = cli.json("tokens", "revoke", "--user", "eve@example.com", "--client", "client-1")
    assert one["client_id"] == "client-1" and one["refused_if_issued_before"]
    with admin.begin():
        assert [(str(r.user_id), r.client_id) for r in admin.scalars(select(GrantRevocation))] == [
            (user["id"], "client-1")
        ]
    assert access_of(admin, user["id"]) == (2, 1, False)

    cli.json("tokens", "revoke", "--user", "eve@example.com")
    assert access_of(admin, user["id"]) == (0, 0, True)


@pytest.mark.parametrize(
    "args",
    [
        ("users", "show", "nobody@example.com"),
        ("users", "disable", "nobody@example.com"),
        ("users", "delete", "nobody@example.com", "--yes"),
        ("sessions", "revoke", "--user", "nobody@example.com"),
        ("tokens", "revoke", "--user", "nobody@example.com"),
    ],
)
def test_unknown_user_is_a_one_line_error(cli: Cli, args: tuple[str, ...]) -> None:
    assert "no user with email nobody@example.com" in one_line_error(cli(*args))


def test_unknown_client_is_a_one_line_error(cli: Cli) -> None:
    add(cli, "fay@example.com")
    result = cli("tokens", "revoke", "--user", "fay@example.com", "--client", "nope")
    assert "no client with id nope" in one_line_error(result)


def test_passwords_are_never_arguments(cli: Cli) -> None:
    for command in ("add", "set-password"):
        assert cli("users", command, "gus@example.com", "--password", "on-the-command-line").returncode == 2


def test_account_changes_are_audited_without_passwords(cli: Cli, admin: Session) -> None:
    add(cli, "dee@example.com")
    add(cli, "eve@example.com")
    for args in (
        ("users", "disable"),
        ("users", "enable"),
        ("sessions", "revoke", "--user"),
        ("tokens", "revoke", "--user"),
    ):
        assert cli(*args, "dee@example.com").returncode == 0
    new_password = "another fine passphrase"
    assert (
        cli("users", "set-password", "dee@example.com", "--password-stdin", stdin=new_password + "\n").returncode == 0
    )
    assert cli("users", "delete", "dee@example.com", "--yes").returncode == 0

    events = cli.json("audit", "--user", "DEE@example.com")
    assert [e["action"] for e in events] == [
        "user.delete",
        "user.password",
        "tokens.revoke",
        "sessions.revoke",
        "user.enable",
        "user.disable",
        "user.add",
    ]
    assert {e["target"] for e in events} == {"dee@example.com"} and all(e["details"]["via"] == "cli" for e in events)
    assert [e["action"] for e in cli.json("audit", "--action", "user.add")] == ["user.add", "user.add"]
    assert len(cli.json("audit", "--limit", "3")) == 3
    table = cli("audit", "--user", "eve@example.com")
    assert table.returncode == 0 and "user.add" in table.stdout and "eve@example.com" in table.stdout
    with admin.begin():
        stored = str([(e.target, e.details) for e in admin.scalars(select(AuditEvent))])
    assert PASSWORD not in stored and new_password not in stored
