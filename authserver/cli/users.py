"""``authserver users …``: accounts, by email. Passwords come from a prompt or stdin, never argv."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from authserver import audit
from authserver.cli.database import load_settings, management_session
from authserver.cli.output import (
    JsonOption,
    iso,
    print_fields,
    print_json,
    print_table,
    readable_errors,
    report,
)
from authserver.consents import authorized_applications
from authserver.passwords import check_new_password, hash_password
from authserver.users import (
    create_user,
    delete_user,
    disable_user,
    enable_user,
    get_user_by_email,
    list_users,
    set_password,
)
from shared.models import BrowserSession, RefreshToken, User, utcnow

app = typer.Typer(help="User accounts.", no_args_is_help=True)

EmailArgument = Annotated[str, typer.Argument(help="Email address (compared lower-cased).")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line break is removed, never other characters.
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return password


def summary(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "created_at": iso(user.created_at),
        "disabled": user.disabled_at is not None,
    }


@app.command("add")
def add(
    email: EmailArgument,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: PasswordStdin = False,
    as_json: JsonOption = False,
) -> None:
    """Add a user; the password is prompted for twice, or read from stdin."""
    settings = load_settings()
    password = read_password(password_stdin)
    with readable_errors(), management_session(settings) as db:
        user = create_user(db, email, password, name)
        audit.record(db, "user.add", target=user.email, via="cli")
        data = summary(user)
    report(as_json, data, f"added user {data['email']} ({data['id']})")


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the users."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        rows = [summary(user) for user in list_users(db)]
    if as_json:
        print_json(rows)
        return
    print_table(
        ("Email", "Name", "Created", "Status", "Id"),
        [
            (r["email"], r["name"], r["created_at"][:19].replace("T", " "), _status(r["disabled"]), r["id"])
            for r in rows
        ],
        empty="no users yet",
    )


def _status(disabled: bool) -> str:
    return "[red]disabled[/]" if disabled else "active"


@app.command("show")
def show(email: EmailArgument, as_json: JsonOption = False) -> None:
    """Show one user: status, sessions, and the applications they authorized."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        user = get_user_by_email(db, email)
        data = {
            **summary(user),
            "disabled_at": iso(user.disabled_at),
            "tokens_valid_after": iso(user.tokens_valid_after),
            **_activity(db, user),
            "applications": [
                {
                    "client_id": app.client_id,
                    "name": app.name,
                    "scopes": app.scopes,
                    "resources": app.resources,
                    "last_used_at": iso(app.last_used_at),
                }
                for app in authorized_applications(db, user.id)
            ],
        }
    if as_json:
        print_json(data)
        return
    fields = {k: v for k, v in data.items() if k != "applications"}
    fields["applications"] = ", ".join(f"{a['name']} ({a['client_id']})" for a in data["applications"]) or "none"
    print_fields({k: "" if v is None else v for k, v in fields.items()})


def _activity(db: Session, user: User) -> dict[str, int]:
    now = utcnow()
    sessions = db.scalar(select(func.count()).where(BrowserSession.user_id == user.id, BrowserSession.expires_at > now))
    refresh = db.scalar(
        select(func.count()).where(
            RefreshToken.user_id == user.id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.rotated_at.is_(None),
            RefreshToken.expires_at > now,
        )
    )
    return {"browser_sessions": int(sessions or 0), "active_refresh_tokens": int(refresh or 0)}


@app.command("disable")
def disable(email: EmailArgument, as_json: JsonOption = False) -> None:
    """Disable a user: sign-ins refused, sessions ended, tokens revoked (the MCP server refuses them within seconds)."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        user = get_user_by_email(db, email)
        changed = disable_user(db, user)
        if changed:
            audit.record(db, "user.disable", target=user.email, via="cli")
        data = {**summary(user), "changed": changed}
    sentence = (
        f"disabled {data['email']}: browser sessions ended, tokens revoked"
        if changed
        else f"{data['email']} was already disabled"
    )
    report(as_json, data, sentence)


@app.command("enable")
def enable(email: EmailArgument, as_json: JsonOption = False) -> None:
    """Enable a disabled user (tokens revoked while disabled stay revoked)."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        user = get_user_by_email(db, email)
        changed = enable_user(db, user)
        if changed:
            audit.record(db, "user.enable", target=user.email, via="cli")
        data = {**summary(user), "changed": changed}
    report(as_json, data, f"enabled {data['email']}" if changed else f"{data['email']} was not disabled")


@app.command("set-password")
def set_password_(email: EmailArgument, password_stdin: PasswordStdin = False, as_json: JsonOption = False) -> None:
    """Set a new password; every session and token of the user ends."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        user = get_user_by_email(db, email)  # before the prompt: a typo in the email fails at once
        password = read_password(password_stdin)
        check_new_password(password, (user.email, user.name))
        set_password(db, user, hash_password(password))
        audit.record(db, "user.password", target=user.email, via="cli")
        data = summary(user)
    report(as_json, data, f"new password set for {data['email']}: browser sessions ended, tokens revoked")


@app.command("delete")
def delete(
    email: EmailArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a user and everything that is theirs alone (sessions, tokens, consents, memberships)."""
    settings = load_settings()
    with readable_errors(), management_session(settings) as db:
        user = get_user_by_email(db, email)
        if not yes and not typer.confirm(f"Delete {user.email} and their sessions, tokens and memberships?"):
            raise typer.Exit(1)
        data = summary(user)
        audit.record(db, "user.delete", target=user.email, via="cli")
        delete_user(db, user)
    report(as_json, data, f"deleted user {data['email']}")
