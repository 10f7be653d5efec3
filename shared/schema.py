"""Database schema management: Alembic migrations run from code (the CLIs use this).

Migrations always run against ``settings.admin_database_url``, the URL of the role that
owns the tables; on Postgres the runtime roles, grants and RLS policies come from the
same migrations (``migrations/versions/0002_postgres_security.py``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

import migrations
from shared.db import backend_of, make_engine, sync_url
from shared.settings import Settings

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for Postgres and in-memory databases)."""
    if backend_of(url) != "sqlite":
        return None
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def create_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite database file, so a first run needs no preparation."""
    if (path := _sqlite_file(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _config(settings: Settings) -> Config:
    """An Alembic config without an ini file; env.py reads settings and URL from its attributes."""
    config = Config()
    # Config values go through ConfigParser interpolation: a literal '%' must be doubled.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["settings"] = settings
    config.attributes["url"] = sync_url(settings.admin_database_url)
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (env.py creates the SQLite data directory if needed)."""
    command.upgrade(_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Take the database down to ``revision`` (``"base"`` removes everything)."""
    command.downgrade(_config(settings), revision)


def current_revision(settings: Settings) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    if (path := _sqlite_file(settings.admin_database_url)) is not None and not path.exists():
        return None  # do not create an empty database file just to look
    engine = make_engine(settings.admin_database_url, pool_size=1)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
