"""Which database the CLI talks to, and as whom.

Managing users, clients, keys and tokens needs only what the authorization server itself may
do, so it uses the auth role's URL (``SKILLS_AUTH_DATABASE_URL``) when set, else the
administrative one: the CLI then works both in the ``authserver`` container (auth role only)
and in the ``migrate`` container (administrative URL only). Migrations and ``check`` need the
administrative URL; where only the auth role's is set they refuse instead of falling back to
a SQLite file nobody uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from authserver.cli.output import fail
from shared.db import make_engine, session_factory, transaction
from shared.settings import Settings, get_settings


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:  # pydantic's ValidationError: name the setting and the reason
        fail("invalid settings: " + " ".join(line.strip() for line in str(error).splitlines()[1:3]))


def admin_url(settings: Settings) -> str:
    """The administrative URL, refusing the silent SQLite fallback where only the auth role's is set."""
    if settings.database_url is None and settings.auth_database_url is not None:
        fail(
            "this command needs the administrative database URL (SKILLS_DATABASE_URL), "
            "and only SKILLS_AUTH_DATABASE_URL is set: run it in the migrate container"
        )
    return settings.admin_database_url


@contextmanager
def management_session(settings: Settings) -> Iterator[Session]:
    """One transaction as the authorization server's role (commit on success)."""
    engine = make_engine(settings.auth_db_url, pool_size=1)
    try:
        with transaction(session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
