"""Alembic environment: migrates the database the settings name.

Called through ``shared.schema`` the Settings and URL arrive in ``config.attributes``;
run as plain ``alembic upgrade head`` they are read from the ``SKILLS_*`` environment.
Revisions read the Settings from ``context.config.attributes["settings"]`` (role names
and passwords for the Postgres security revision).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from shared.db import backend_of, make_engine, sync_url
from shared.models import Base, maintained_by_migrations
from shared.schema import create_sqlite_directory
from shared.settings import Settings, get_settings

config = context.config

# Only the command line configures logging; an application calling shared.schema keeps its own.
if config.config_file_name is not None and "settings" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if "settings" not in config.attributes:
    config.attributes["settings"] = get_settings()
settings: Settings = config.attributes["settings"]
url: str = config.attributes.get("url") or sync_url(settings.admin_database_url)
# SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
render_as_batch = backend_of(url) == "sqlite"
target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Autogenerate leaves alone what only the migrations manage (the full-text search structures)."""
    return not maintained_by_migrations(name, type_)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=render_as_batch,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    create_sqlite_directory(url)
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=render_as_batch,
                include_object=include_object,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
