"""``authserver sessions revoke``: sign a user out of every browser."""

from __future__ import annotations

from typing import Annotated

import typer

from authserver import audit
from authserver.cli.database import load_settings, management_session
from authserver.cli.output import JsonOption, readable_errors, report
from authserver.revocation import end_browser_sessions
from authserver.users import get_user_by_email

app = typer.Typer(help="Browser sessions at the authorization server.", no_args_is_help=True)


@app.command("revoke")
def revoke(
    user: Annotated[str, typer.Option("--user", help="Email of the user to sign out everywhere.")],
    as_json: JsonOption = False,
) -> None:
    """End every browser session of a user (their tokens stay valid: see `tokens revoke`)."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        account = get_user_by_email(db, user)
        ended = end_browser_sessions(db, account.id)
        audit.record(db, "sessions.revoke", target=account.email, via="cli", ended=ended)
        email = account.email
    report(as_json, {"email": email, "sessions_ended": ended}, f"ended {ended} browser session(s) of {email}")
