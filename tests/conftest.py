"""Fixtures shared by the whole suite: databases (SQLite and a throwaway Postgres).

Postgres tests need ``SKILLS_TEST_POSTGRES_URL``, a superuser URL. Each database fixture
creates its own database and its own login roles and drops them afterwards. Without the
URL those tests are skipped with a reason; under ``CI=true`` a missing Postgres fails.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.settings import Settings

POSTGRES_URL = os.environ.get("SKILLS_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Database:
    """A database for one test (or module): the environment the servers and CLI need."""

    backend: str
    env: dict[str, str] = field(default_factory=dict)
    data_dir: Path = Path()

    def settings(self) -> Settings:
        """The settings a process started with ``env`` would read."""
        return Settings(**{k.removeprefix("SKILLS_").lower(): v for k, v in self.env.items()})  # type: ignore[arg-type]

    @property
    def admin_url(self) -> str:
        return self.settings().admin_database_url


def require_postgres() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("SKILLS_TEST_POSTGRES_URL is not set, and CI=true requires the Postgres tests to run")
    pytest.skip("SKILLS_TEST_POSTGRES_URL is not set: Postgres tests skipped")


def _superuser_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_database(tmp_path: Path) -> Iterator[Database]:
    yield from _postgres_database(tmp_path)


def _postgres_database(data_dir: Path) -> Iterator[Database]:
    admin = make_url(require_postgres())
    suffix = secrets.token_hex(4)
    name, auth_role, mcp_role = f"skills_test_{suffix}", f"skills_auth_{suffix}", f"skills_mcp_{suffix}"
    engine = _superuser_engine(admin.render_as_string(hide_password=False))
    with engine.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    url = admin.set(database=name, drivername="postgresql")
    auth_password, mcp_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    env = {
        "SKILLS_DATA_DIR": str(data_dir),
        "SKILLS_DATABASE_URL": url.render_as_string(hide_password=False),
        "SKILLS_DB_AUTH_ROLE": auth_role,
        "SKILLS_DB_MCP_ROLE": mcp_role,
        "SKILLS_DB_AUTH_PASSWORD": auth_password,
        "SKILLS_DB_MCP_PASSWORD": mcp_password,
        "SKILLS_AUTH_DATABASE_URL": url.set(username=auth_role, password=auth_password).render_as_string(
            hide_password=False
        ),
        "SKILLS_MCP_DATABASE_URL": url.set(username=mcp_role, password=mcp_password).render_as_string(
            hide_password=False
        ),
    }
    try:
        yield Database("postgresql", env, data_dir)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
            for role in (auth_role, mcp_role):
                conn.execute(text(f'drop role if exists "{role}"'))
        engine.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Database:
    return Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path)}, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Runs the test once on SQLite and once on Postgres."""
    if request.param == "sqlite":
        yield Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path)}, tmp_path)
    else:
        yield from _postgres_database(tmp_path)
