"""How the CLI answers: rich tables for people, ``--json`` for scripts, one-line errors.

Exit status: 0 done, 1 failed (one line on stderr, never a traceback) or ``check`` found
problems, 2 the command line itself was wrong (typer's usage errors).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from authserver.keys import KeyConfigurationError
from authserver.passwords import PasswordRejected
from authserver.users import UserError

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table or a sentence.")]


class NotFound(LookupError):
    """The thing the operator named does not exist; the message names it."""


def fail(message: str) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True, highlight=False)
    raise typer.Exit(1)


@contextmanager
def readable_errors() -> Iterator[None]:
    """Turn expected failures into one line on stderr and exit status 1 (no traceback)."""
    try:
        yield
    except (UserError, PasswordRejected, KeyConfigurationError, NotFound) as error:
        fail(str(error).strip("'\""))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        fail(f"database error: {reason} (has `authserver db upgrade` been run?)")
    except (OSError, ValueError) as error:
        fail(str(error))


def moment(value: datetime | None) -> str:
    """A timestamp for a table cell (UTC, to the second); '' for none."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> None:
    if not rows:
        out.print(empty, highlight=False)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*row)
    out.print(table)


def print_fields(fields: dict[str, Any]) -> None:
    """One record as a two-column table (``show`` commands)."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields.items():
        table.add_row(name, value if isinstance(value, str) else json.dumps(value, default=str))
    out.print(table)


def report(as_json: bool, data: dict[str, Any], sentence: str) -> None:
    """The outcome of an action: ``data`` as JSON for scripts, else one sentence."""
    if as_json:
        print_json(data)
    else:
        out.print(sentence, highlight=False, soft_wrap=True)
