"""``authserver tokens revoke``: take back what a user's applications hold."""

from __future__ import annotations

from typing import Annotated

import typer

from authserver import audit
from authserver.cli.database import load_settings, management_session
from authserver.cli.output import JsonOption, NotFound, iso, readable_errors, report
from authserver.clients import get_client
from authserver.revocation import revoke_all_for_user, revoke_grant
from authserver.users import get_user_by_email

app = typer.Typer(help="Access and refresh tokens.", no_args_is_help=True)


@app.command("revoke")
def revoke(
    user: Annotated[str, typer.Option("--user", help="Email of the user whose tokens to revoke.")],
    client: Annotated[str | None, typer.Option("--client", help="Only this client's tokens (a client id).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Revoke a user's tokens: of one client, or of every client (and their browser sessions).

    Refresh tokens stop at once; access tokens are refused by the MCP server within
    `revocation_check_seconds`.
    """
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        account = get_user_by_email(db, user)
        if client is not None:
            if get_client(db, client) is None:
                raise NotFound(f"no client with id {client}")
            since = revoke_grant(db, account.id, client)
            audit.record(db, "tokens.revoke", client_id=client, target=account.email, via="cli")
            sentence = f"revoked the tokens of {client} for {account.email}"
        else:
            since = revoke_all_for_user(db, account.id)
            audit.record(db, "tokens.revoke", target=account.email, via="cli", sessions=True)
            sentence = f"revoked every token and browser session of {account.email}"
        data = {"email": account.email, "client_id": client, "refused_if_issued_before": iso(since)}
    report(as_json, data, sentence)
