"""Migrations: up, down and up again on both databases, and the result is what the models say.

The models are the source of truth for the application; the migrations are what actually
builds production databases. These tests keep the two from drifting apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from shared import schema
from shared.db import make_engine
from shared.models import Base, maintained_by_migrations
from tests.conftest import Database

ROOT = Path(__file__).resolve().parent.parent
MODEL_TABLES = set(Base.metadata.tables)
# Created by later revisions.
TABLES_AFTER_0001 = {"grant_revocations", "idempotency_keys", "snippet_files", "web_sessions"}
HEAD = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_current_head()


def _tables(database: Database) -> set[str]:
    engine = make_engine(database.admin_url)
    try:
        names = set(inspect(engine).get_table_names()) - {"alembic_version"}
        return {name for name in names if not maintained_by_migrations(name, "table")}
    finally:
        engine.dispose()


def _modelled(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not maintained_by_migrations(name, type_)


def _schema_differences(database: Database) -> list[object]:
    """What autogenerate would still have to do to make the database match the models."""
    engine = make_engine(database.admin_url)
    try:
        with engine.connect() as connection:
            # The full-text search structures are not models (migration 0004).
            opts = {"compare_type": True, "include_object": _modelled}
            context = MigrationContext.configure(connection, opts=opts)
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(database: Database) -> None:
    settings = database.settings()
    assert schema.current_revision(settings) is None

    schema.upgrade(settings)
    assert schema.current_revision(settings) == HEAD
    assert _tables(database) == MODEL_TABLES

    schema.downgrade(settings, "base")
    assert schema.current_revision(settings) is None
    assert _tables(database) == set()

    schema.upgrade(settings)
    assert schema.current_revision(settings) == HEAD
    assert _tables(database) == MODEL_TABLES


def test_schema_matches_models(database: Database) -> None:
    schema.upgrade(database.settings())
    assert _schema_differences(database) == []

    # The comparison is live: a missing index is reported.
    engine = make_engine(database.admin_url)
    with engine.begin() as connection:
        connection.execute(text("drop index ix_snippets_workspace_updated"))
    engine.dispose()
    differences = _schema_differences(database)
    assert [d[0] for d in differences] == ["add_index"]


def test_alembic_command_line(database: Database) -> None:
    """Plain ``alembic upgrade head``, from any directory, finds the database through SKILLS_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLS_")} | database.env
    command = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"]
    result = subprocess.run(command, cwd=database.data_dir, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert schema.current_revision(database.settings()) == HEAD
    assert _tables(database) == MODEL_TABLES


def test_sqlite_data_directory_is_created(tmp_path: Path) -> None:
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(tmp_path / "not" / "yet")}, tmp_path / "not" / "yet")
    assert schema.current_revision(database.settings()) is None
    assert not (tmp_path / "not").exists()  # looking does not create anything

    schema.upgrade(database.settings())
    assert (tmp_path / "not" / "yet" / "skills.db").is_file()
    assert schema.current_revision(database.settings()) == HEAD


def test_postgres_security_is_removed_by_downgrade(postgres_database: Database) -> None:
    """Downgrading 0002 leaves the plain 0001 schema: no policies, helpers, grants or roles."""
    settings = postgres_database.settings()
    schema.upgrade(settings)
    schema.downgrade(settings, "0001")

    roles = (settings.db_mcp_role, settings.db_auth_role)
    engine = make_engine(postgres_database.admin_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(text("select count(*) from pg_policies where schemaname = 'public'")) == 0
            assert conn.scalar(text("select count(*) from pg_namespace where nspname = 'app'")) == 0
            assert conn.scalar(text("select count(*) from pg_trigger where not tgisinternal")) == 0
            secured = conn.scalar(
                text(
                    "select count(*) from pg_class where relnamespace = 'public'::regnamespace"
                    " and (relrowsecurity or relforcerowsecurity)"
                )
            )
            assert secured == 0
            assert conn.scalar(text("select count(*) from pg_roles where rolname = any(:r)"), {"r": list(roles)}) == 0
    finally:
        engine.dispose()
    assert _tables(postgres_database) == MODEL_TABLES - TABLES_AFTER_0001

    schema.upgrade(settings)  # and back again
    assert schema.current_revision(settings) == HEAD


def test_existing_roles_are_made_safe(postgres_database: Database) -> None:
    """A role that already exists is reused, but loses superuser and BYPASSRLS."""
    settings = postgres_database.settings()
    engine = make_engine(postgres_database.admin_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'create role "{settings.db_mcp_role}" nologin superuser bypassrls'))
        schema.upgrade(settings)
        with engine.connect() as conn:
            row = conn.execute(
                text("select rolcanlogin, rolsuper, rolbypassrls from pg_roles where rolname = :r"),
                {"r": settings.db_mcp_role},
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == (True, False, False)


def test_postgres_security_needs_a_migrating_role_that_bypasses_rls(postgres_database: Database) -> None:
    """Under FORCE RLS a plain owner would see no rows in its own SECURITY DEFINER helpers: refuse early."""
    admin = make_url(postgres_database.admin_url)
    owner = f"{postgres_database.settings().db_mcp_role}_owner"
    engine = make_engine(postgres_database.admin_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'create role "{owner}" login'))
            conn.execute(text(f'grant create on schema public to "{owner}"'))
        plain_owner = Database(
            "postgresql",
            postgres_database.env | {"SKILLS_DATABASE_URL": admin.set(username=owner).render_as_string(False)},
            postgres_database.data_dir,
        )
        with pytest.raises(ProgrammingError, match="must be a superuser or BYPASSRLS"):
            schema.upgrade(plain_owner.settings())
        assert schema.current_revision(plain_owner.settings()) is None  # one transaction: nothing was left behind
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'drop owned by "{owner}"'))
            conn.execute(text(f'drop role "{owner}"'))
        engine.dispose()
