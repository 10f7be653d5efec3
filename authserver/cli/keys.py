"""``authserver keys …``: the signing keys (next → active → retiring → retired).

``rotate --if-older-than DAYS`` is meant for a daily timer: it rotates only when the active
key is older, so running it often is harmless.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import typer

from authserver.cli.database import load_settings, management_session
from authserver.cli.output import JsonOption, iso, moment, print_json, print_table, readable_errors, report
from authserver.keys import KeySummary, keys_older_than, list_keys, retire, rotate

app = typer.Typer(help="Signing keys of access tokens.", no_args_is_help=True)


def as_data(key: KeySummary) -> dict[str, Any]:
    data = asdict(key)
    for name in ("created_at", "activated_at", "retired_at"):
        data[name] = iso(data[name])
    return data


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the keys and their states."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        keys = list_keys(db, settings)
    if as_json:
        print_json([as_data(k) for k in keys])
        return
    print_table(
        ("Key id", "Alg", "State", "Created", "Activated", "Retired"),
        [(k.kid, k.alg, k.state, moment(k.created_at), moment(k.activated_at), moment(k.retired_at)) for k in keys],
        empty="no signing keys yet (the server makes the first at start)",
    )


@app.command("rotate")
def rotate_(
    if_older_than: Annotated[
        float | None,
        typer.Option("--if-older-than", min=0, help="Rotate only if the active key is older than this many days."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make the next key active; the old one stays published until its tokens have expired."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        if if_older_than is not None and not keys_older_than(db, if_older_than):
            report(as_json, {"rotated": False}, f"the active key is not older than {if_older_than:g} days: kept")
            return
        active = rotate(db, settings)
    report(as_json, {"rotated": True, "active": as_data(active)}, f"rotated: {active.kid} is the active key")


@app.command("retire")
def retire_(
    kid: Annotated[str, typer.Argument(help="The key id.")],
    force: Annotated[
        bool, typer.Option("--force", help="Retire even if tokens it signed may still be valid (they then fail).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Stop publishing a key that no longer signs."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        retire(db, kid, force=force, settings=settings)  # KeyStateError is a ValueError: one line
    report(as_json, {"kid": kid, "retired": True}, f"retired {kid}")
