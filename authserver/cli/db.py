"""``authserver db upgrade``: create or migrate the schema (as the administrative role)."""

from __future__ import annotations

import typer

from authserver.cli.database import admin_url, load_settings
from authserver.cli.output import JsonOption, readable_errors, report

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(as_json: JsonOption = False) -> None:
    """Create or migrate the database schema to the newest version."""
    from shared.schema import current_revision, upgrade  # Alembic is only needed here

    settings = load_settings()
    admin_url(settings)
    with readable_errors():
        upgrade(settings)
        revision = current_revision(settings)
    report(as_json, {"revision": revision}, "database is up to date")
