"""A migrated database on each backend, opened as the authorization server's own role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from shared.db import make_engine, session_factory
from shared.schema import upgrade
from tests.conftest import Database


@pytest.fixture(name="auth_db")
def auth_db_fixture(database: Database) -> Iterator[sessionmaker[Session]]:
    """Sessions as the auth role (on Postgres: RLS-bound, not the owner), after ``db upgrade``."""
    settings = database.settings()
    upgrade(settings)
    engine = make_engine(settings.auth_db_url)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()
