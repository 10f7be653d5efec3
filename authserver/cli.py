"""The operator's command line: ``authserver serve | db upgrade | users add | users list``.

Settings come from ``SKILLS_*`` environment variables, as for the server. Failures print
one readable line and exit with status 1; passwords are never taken from the command line.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from authserver.keys import KeyConfigurationError
from authserver.passwords import PasswordRejected
from authserver.users import UserError, create_user, list_users
from shared.db import make_engine, session_factory, transaction
from shared.settings import Settings, get_settings

app = typer.Typer(help="shared-skills authorization server.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

out = Console()
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def readable_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit status 1 (no traceback)."""
    try:
        yield
    except (UserError, PasswordRejected, KeyConfigurationError) as error:
        fail(str(error))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        fail(f"database error: {reason} (has `authserver db upgrade` been run?)")
    except (OSError, ValueError) as error:
        fail(str(error))


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:  # pydantic's ValidationError: name the setting and the reason
        fail("invalid settings: " + " ".join(line.strip() for line in str(error).splitlines()[1:3]))


@app.command()
def serve(
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips (only behind your own proxy).")
    ] = False,
    forwarded_allow_ips: Annotated[str, typer.Option(help="Proxy addresses trusted for X-Forwarded-*.")] = "127.0.0.1",
) -> None:
    """Run the authorization server (settings.auth_host:settings.auth_port)."""
    import uvicorn

    from authserver.app import create_app

    settings = load_settings()
    with readable_errors():
        application = create_app(settings)
    uvicorn.run(
        application,
        host=settings.auth_host,
        port=settings.auth_port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips if proxy_headers else None,
        server_header=False,
        log_level=settings.log_level.lower(),
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from shared.schema import upgrade  # imported here: Alembic is only needed by this command

    settings = load_settings()
    with readable_errors():
        upgrade(settings)
    out.print("database is up to date")


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line break is removed, never other characters.
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return password


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Email address (stored lower-cased).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a user; the password is prompted for twice, or read from stdin."""
    settings = load_settings()
    password = read_password(password_stdin)
    engine = make_engine(settings.admin_database_url)
    try:
        with readable_errors(), transaction(session_factory(engine)) as db:
            user = create_user(db, email, password, name)
            summary = f"added user {user.email} ({user.id})"
    finally:
        engine.dispose()
    out.print(summary, highlight=False)


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False) -> None:
    """List the users."""
    settings = load_settings()
    engine = make_engine(settings.admin_database_url)
    try:
        with readable_errors(), session_factory(engine)() as db:
            rows: list[dict[str, Any]] = [
                {
                    "id": str(user.id),
                    "email": user.email,
                    "name": user.name,
                    "created_at": user.created_at.isoformat(),
                    "disabled": user.disabled_at is not None,
                }
                for user in list_users(db)
            ]
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("Email", "Name", "Created", "Status", "Id")
    for row in rows:
        status = "[red]disabled[/]" if row["disabled"] else "active"
        created = str(row["created_at"])[:19].replace("T", " ")
        table.add_row(str(row["email"]), str(row["name"]), created, status, str(row["id"]))
    out.print(table if rows else "no users yet")


def main() -> None:
    """Console-script entry point ``authserver``."""
    app()
