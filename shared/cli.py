"""`shared-skills`: operations that span both servers: `up`, `backup` and `restore`.

`up` is the quickstart: it prepares the data directory and database, creates the first
account on a fresh database, and runs both servers as child processes until Ctrl-C.
It drives the servers through their own entry points, as an operator would.
`backup` and `restore` copy the whole database (:mod:`shared.backup`, docs/backups.md).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.panel import Panel
from sqlalchemy import func, select

from shared.db import make_engine
from shared.library_io.commands import export_command, import_command
from shared.library_io.file_commands import files_cli
from shared.models import User
from shared.settings import Settings, get_settings
from shared.sync_skills import sync_skills_command

cli = typer.Typer(help="shared-skills: a team library of prompts and snippets over MCP.", add_completion=False)
console = Console(stderr=True)
out = Console()


@cli.callback(no_args_is_help=True)
def _root() -> None:
    """shared-skills: a team library of prompts and snippets over MCP."""


def _count_users(settings: Settings) -> int:
    engine = make_engine(settings.admin_database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(User)).scalar_one())
    finally:
        engine.dispose()


def _create_first_account(email: str) -> str:
    password = secrets.token_urlsafe(15)
    result = subprocess.run(  # noqa: S603 (our own entry point, argv list, no shell)
        [sys.executable, "-m", "authserver", "users", "add", email, "--name", "Administrator", "--password-stdin"],
        input=password + "\n",
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        console.print(
            f"[red]Could not create the first account:[/red] {result.stderr.strip() or result.stdout.strip()}"
        )
        raise typer.Exit(1)
    return password


def _ensure_web_client_secret(settings: Settings) -> None:
    """Give the web library a client secret both servers read (the file, mode 0600), unless one is set."""
    if settings.web_secret() is not None:
        return
    path = settings.web_secret_path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
        sink.write(secrets.token_urlsafe(32) + "\n")


def _wait_healthy(name: str, url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} while starting")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {url} within {timeout:.0f} s")


def _stop(procs: list[subprocess.Popen[bytes]], grace: float = 10) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@cli.command()
def up(
    admin_email: str = typer.Option("admin@localhost", help="Email of the first account on a fresh database."),
) -> None:
    """Prepare the database and run both servers until Ctrl-C."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _ensure_web_client_secret(settings)

    from shared.schema import upgrade

    upgrade(settings)
    password = _create_first_account(admin_email.strip().lower()) if _count_users(settings) == 0 else None

    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        env = dict(os.environ)
        auth = subprocess.Popen([sys.executable, "-m", "authserver", "serve"], env=env)
        procs.append(auth)
        _wait_healthy("authserver", f"http://{_local(settings.auth_host)}:{settings.auth_port}/healthz", auth)
        mcp = subprocess.Popen([sys.executable, "-m", "mcpserver", "serve"], env=env)
        procs.append(mcp)
        _wait_healthy("mcpserver", f"http://{_local(settings.mcp_host)}:{settings.mcp_port}/healthz", mcp)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/red]")
        _stop(procs)
        raise typer.Exit(1) from None

    lines = [
        f"Authorization server  {settings.issuer_url}",
        f"MCP endpoint          {settings.resource_url}",
        f"Web library           {settings.web_base_url}",
        f"Data directory        {settings.data_dir.resolve()}",
        "",
        "Connect Claude Code:",
        f"  claude mcp add --transport http shared-skills {settings.resource_url}",
    ]
    if password:
        lines[5:5] = [
            f"First account         {admin_email.strip().lower()}",
            f"One-time password     {password}",
            "  (shown once, stored only as a hash: sign in and keep it somewhere safe)",
            "",
        ]
    out.print(Panel("\n".join(lines), title="shared-skills is running", expand=False))
    out.print("Press Ctrl-C to stop.")
    sys.stdout.flush()

    exit_code = 0
    while not stopping:
        for proc in procs:
            if proc.poll() is not None:
                console.print(f"[red]A server exited with status {proc.returncode}; stopping.[/red]")
                stopping, exit_code = True, 1
        time.sleep(0.2)
    _stop(procs)
    console.print("Stopped.")
    raise typer.Exit(exit_code)


@cli.command()
def backup(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write. Default: skills-<UTC time>.<sqlite3|dump> in the backup directory."
        ),
    ] = None,
) -> None:
    """Back up the whole database, consistently, while the servers run."""
    from shared import backup as backups

    settings = get_settings()
    try:
        target = output or backups.default_output(settings)
        console.print(f"Backing up the database to {target} …", soft_wrap=True)
        outcome = backups.backup(settings, target)
    except backups.BackupError as error:
        console.print(f"[red]Backup failed:[/red] {error}", soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"backup written: {', '.join(map(str, outcome.files))} ({outcome.summary})", soft_wrap=True)


@cli.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A file written by `shared-skills backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that is not empty (stop the servers first).")
    ] = False,
) -> None:
    """Restore a backup into the configured database (empty unless --force), then run `authserver db upgrade`."""
    from shared import backup as backups

    settings = get_settings()
    console.print(f"Restoring {source} …", soft_wrap=True)
    try:
        outcome = backups.restore(settings, source, force=force)
    except backups.BackupError as error:
        console.print(f"[red]Restore failed:[/red] {error}", soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"restored: {outcome.summary}. Next: `authserver db upgrade`, then start the servers.", soft_wrap=True)


def _local(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)  # noqa: S104


cli.command("export")(export_command)
cli.command("import")(import_command)
cli.command("sync-skills")(sync_skills_command)
cli.add_typer(files_cli, name="files")


def main() -> None:
    cli()
