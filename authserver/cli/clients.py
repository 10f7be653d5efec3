"""``authserver clients …``: registered OAuth clients (dynamic, metadata documents, operator)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated, Any

import typer

from authserver import audit
from authserver.cli.database import load_settings, management_session
from authserver.cli.output import (
    JsonOption,
    NotFound,
    iso,
    moment,
    print_fields,
    print_json,
    print_table,
    readable_errors,
    report,
)
from authserver.clients import ClientSummary, delete_client, get_client, list_clients, prune_unused

app = typer.Typer(help="OAuth clients.", no_args_is_help=True)

ClientIdArgument = Annotated[str, typer.Argument(help="The client id.")]


def as_data(client: ClientSummary) -> dict[str, Any]:
    data = asdict(client)
    data["created_at"], data["last_used_at"] = iso(client.created_at), iso(client.last_used_at)
    return data


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the registered clients."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        clients = list_clients(db)
    if as_json:
        print_json([as_data(c) for c in clients])
        return
    print_table(
        ("Client id", "Name", "Source", "Created", "Last used"),
        [(c.client_id, c.name, c.source, moment(c.created_at), moment(c.last_used_at) or "never") for c in clients],
        empty="no clients registered",
    )


@app.command("show")
def show(client_id: ClientIdArgument, as_json: JsonOption = False) -> None:
    """Show one client."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        client = get_client(db, client_id)
        if client is None:
            raise NotFound(f"no client with id {client_id}")
    data = as_data(client)
    if as_json:
        print_json(data)
    else:
        print_fields({k: "" if v is None else v for k, v in data.items()})


@app.command("delete")
def delete(
    client_id: ClientIdArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a client; its tokens stop working (access tokens within seconds at the MCP server)."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        if get_client(db, client_id) is None:
            raise NotFound(f"no client with id {client_id}")
        if not yes and not typer.confirm(f"Delete client {client_id} and revoke its tokens?"):
            raise typer.Exit(1)
        delete_client(db, client_id)
        audit.record(db, "client.delete", client_id=client_id, via="cli")
    report(as_json, {"client_id": client_id, "deleted": True}, f"deleted client {client_id}")


@app.command("prune")
def prune(
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", min=0, help="Days since registration. Default: the unused_client_ttl setting."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Delete registrations that never obtained a code and are older than --older-than days."""
    settings = load_settings()
    age = timedelta(days=older_than) if older_than is not None else timedelta(seconds=settings.unused_client_ttl)
    with readable_errors(), management_session(settings) as db:
        removed = prune_unused(db, age)
        audit.record(db, "client.prune", deleted=removed, via="cli")
    report(as_json, {"deleted": removed}, f"deleted {removed} unused client registration(s)")
