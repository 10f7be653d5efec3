"""``shared-skills export`` and ``shared-skills import``: a workspace's snippets to and from files.

Operator commands: they use the administrative database URL (``SKILLS_DATABASE_URL``), as
migrations do. Import reads and checks every record first and writes nothing unless all
are good, then writes everything in one transaction. Exit status: 0 done, 1 failed (bad
records, unknown workspace or account, database error: reasons on stderr, no traceback),
2 the command line itself was wrong.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shared.db import make_engine, session_factory, transaction
from shared.library_io import jsonl, markdown, store
from shared.library_io.records import SLUG, InvalidRecord, SnippetRecord
from shared.settings import Settings, get_settings

err = Console(stderr=True)


class Format(Enum):
    jsonl = "jsonl"
    markdown = "markdown"


class Conflict(Enum):
    fail = "fail"
    skip = "skip"
    replace = "replace"


WorkspaceArgument = Annotated[str, typer.Argument(help="The workspace, by slug or id.", show_default=False)]


def fail(message: str) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def note(message: str) -> None:
    err.print(message, soft_wrap=True, highlight=False)


def operator_settings() -> Settings:
    try:
        return get_settings()
    except ValueError as error:
        fail("invalid settings: " + " ".join(line.strip() for line in str(error).splitlines()[1:3]))


@contextmanager
def operator_session(settings: Settings) -> Iterator[Session]:
    """One transaction on the administrative URL; database failures become one line."""
    if settings.database_url is None and (settings.auth_database_url or settings.mcp_database_url):
        fail("export, import and files need the administrative database URL (SKILLS_DATABASE_URL)")
    engine = make_engine(settings.admin_database_url, pool_size=1)
    try:
        with transaction(session_factory(engine)) as session:
            yield session
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        fail(f"database error: {reason} (has `authserver db upgrade` been run?)")
    finally:
        engine.dispose()


def _progress() -> Progress:
    """A progress bar on stderr, only when stderr is a terminal (logs and pipes stay clean)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def export_command(
    workspace: WorkspaceArgument,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File (JSON Lines; default: stdout) or new folder (Markdown)."),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="jsonl: full history; markdown: one file per snippet.")
    ] = Format.jsonl,
) -> None:
    """Export a workspace's snippets: JSON Lines with every version, or a folder of Markdown files."""
    settings = operator_settings()
    if format is Format.markdown:
        if output is None:
            fail("--format markdown writes a folder: give it with --output")
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            fail(f"{output} is not an empty folder: choose a new or empty one")
    with operator_session(settings) as session:
        ref = store.find_workspace(session, workspace)
        if ref is None:
            fail(f"no workspace {workspace!r}")
        total = store.count_snippets(session, ref)
        records = store.read_records(session, ref)
        try:
            with _progress() as progress:
                task = progress.add_task(f"Exporting {ref.slug}", total=total)
                count = versions = 0
                for count, versions in _write(records, format, output):  # noqa: B007 (the totals after the loop)
                    progress.update(task, completed=count)
        except OSError as error:
            fail(f"cannot write {error.filename or output}: {error.strerror}")
    where = str(output) if output is not None else "stdout"
    note(f"exported {count} snippet(s) with {versions} version(s) from {ref.slug} to {where}")


def _write(records: Iterable[SnippetRecord], format: Format, output: Path | None) -> Iterator[tuple[int, int]]:
    """Write each record, yielding how many snippets and versions are written so far."""
    count = versions = 0
    if format is Format.markdown:
        assert output is not None
        output.mkdir(parents=True, exist_ok=True)
        for record in records:
            markdown.write_record(output, record)
            count, versions = count + 1, versions + len(record.versions)
            yield count, versions
        return
    sink = sys.stdout.buffer if output is None or str(output) == "-" else output.open("wb")
    try:
        for record in records:
            sink.write(jsonl.dump_line(record).encode())
            count, versions = count + 1, versions + len(record.versions)
            yield count, versions
    finally:
        if sink is not sys.stdout.buffer:
            sink.close()
        else:
            sink.flush()


def import_command(
    workspace: WorkspaceArgument,
    source: Annotated[
        Path, typer.Argument(help="A JSON Lines file (- for stdin) or a folder of Markdown files.", show_default=False)
    ],
    as_email: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Your account: credited with snippets whose authors have no account here; owner of a new workspace.",
        ),
    ] = None,
    on_conflict: Annotated[
        Conflict, typer.Option("--on-conflict", help="When a slug is already used in the workspace.")
    ] = Conflict.fail,
    create: Annotated[
        bool, typer.Option("--create", help="Create the workspace (slug WORKSPACE) if it does not exist.")
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="Name of a workspace made by --create.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and say what would happen; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON (for scripts).")] = False,
) -> None:
    """Import snippets into a workspace, all or nothing: every record is checked before anything is written."""
    settings = operator_settings()
    records = _read_all(source)
    with operator_session(settings) as session:
        ref = store.find_workspace(session, workspace)
        if ref is None and not create:
            fail(f"no workspace {workspace!r} (add --create to make it)")
        if ref is None and not SLUG.match(workspace):
            fail(f"{workspace!r} cannot be a workspace slug: lower-case letters and digits joined by single hyphens")
        emails = {email for r in records for email in (r.author, *(v.author for v in r.versions)) if email}
        authors = store.user_ids(session, emails)
        operator = None
        if as_email is not None:
            operator = store.user_ids(session, [as_email]).get(as_email.strip().lower())
            if operator is None:
                fail(f"no account {as_email!r} (--as names your own account on this server)")
        missing = sorted(emails - set(authors))
        if missing and operator is None:
            fail(
                f"no account for {', '.join(missing)}: create them first, or give --as YOUR-EMAIL to be credited "
                "with their snippets"
            )
        if ref is None and operator is None:
            fail("--create needs --as YOUR-EMAIL: the new workspace's first owner")
        plan = store.plan_import(session, ref, records, on_conflict.value)
        if plan.conflicts:
            for record in plan.conflicts:
                note(f"{record.slug}: the slug is already used in {workspace} (see --on-conflict skip|replace)")
            fail(f"{len(plan.conflicts)} snippet(s) already exist; nothing was imported")
        if not dry_run:
            if ref is None:
                assert operator is not None
                ref = store.create_workspace(session, workspace, name or workspace, operator)
            with _progress() as progress:
                task = progress.add_task(f"Importing into {ref.slug}", total=plan.writes)
                store.write_plan(session, ref, plan, authors, operator, advance=lambda: progress.advance(task))
        else:
            session.rollback()
    outcome = {
        "workspace": workspace,
        "created": len(plan.create),
        "replaced": len(plan.replace),
        "skipped": len(plan.skip),
        "credited_to_you": missing,
        "dry_run": dry_run,
    }
    if as_json:
        print(json.dumps(outcome, indent=2))
        return
    verb = "would import" if dry_run else "imported"
    sentence = (
        f"{verb} {plan.writes} snippet(s) into {workspace}: {len(plan.create)} new, "
        f"{len(plan.replace)} replaced, {len(plan.skip)} skipped"
    )
    if missing:
        sentence += f"; credited to {as_email}: snippets by {', '.join(missing)}"
    print(sentence)


def _read_all(source: Path) -> list[SnippetRecord]:
    """Every record of the source, or the list of bad ones on stderr and exit status 1."""
    if str(source) == "-":
        entries = list(jsonl.read_lines(sys.stdin))
    elif source.is_dir():
        entries = list(markdown.read_folder(source))
        if not entries:
            fail(f"{source} holds no Markdown files (*.md)")
    elif source.is_file():
        try:
            with source.open(encoding="utf-8") as lines:
                entries = list(jsonl.read_lines(lines))
        except UnicodeDecodeError:
            fail(f"{source} is not UTF-8 text")
    else:
        fail(f"{source} does not exist")
    problems: list[str] = []
    records: list[SnippetRecord] = []
    first_place: dict[str, str] = {}
    for where, entry in entries:
        if isinstance(entry, InvalidRecord):
            problems.extend(f"{where}: {reason}" for reason in entry.reasons)
            continue
        if entry.slug in first_place:
            problems.append(f"{where}: slug {entry.slug!r} appears twice (first at {first_place[entry.slug]})")
            continue
        first_place[entry.slug] = where
        records.append(entry)
    if problems:
        for problem in problems:
            note(problem)
        bad = len({p.split(":", 1)[0] for p in problems})
        fail(f"{bad} of {len(entries)} record(s) cannot be imported; nothing was imported")
    return records
