"""The operator's command line, ``authserver``: serve, db, users, clients, keys, tokens, sessions, audit, check.

Settings come from ``SKILLS_*`` environment variables, as for the server. One module per
command group; :mod:`authserver.cli.output` says how answers and errors look (``--json`` for
scripts, one line on stderr and exit status 1 for failures) and :mod:`authserver.cli.database`
which database URL each command uses.
"""

from __future__ import annotations

import typer

from authserver.cli import clients, db, keys, sessions, tokens, users
from authserver.cli.audit_log import audit
from authserver.cli.check import check
from authserver.cli.serve import serve

app = typer.Typer(help="shared-skills authorization server.", no_args_is_help=True, add_completion=False)
app.command("serve")(serve)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(clients.app, name="clients")
app.add_typer(keys.app, name="keys")
app.add_typer(tokens.app, name="tokens")
app.add_typer(sessions.app, name="sessions")
app.command("audit")(audit)
app.command("check")(check)


def main() -> None:
    """Console-script entry point ``authserver``."""
    app()
