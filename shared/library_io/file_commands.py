"""``shared-skills files list|add|remove``: an operator manages a snippet's supporting files.

Like export and import, these use the administrative database URL. They follow the rules
of the MCP tools ``add_skill_file``/``remove_skill_file`` (:mod:`shared.skill_rules`): the
same paths, the same per-file and per-skill limits. Exit status: 0 done, 1 refused (the
reason on stderr), 2 the command line itself was wrong.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from shared.library_io import file_store, store
from shared.library_io.commands import WorkspaceArgument, fail, operator_session, operator_settings
from shared.library_io.files import FileRecord, check
from shared.skill_rules import limits, paths
from shared.skill_rules.media_types import MEDIA_TYPE, media_type_for

files_cli = typer.Typer(help="A snippet's supporting files (served as skill://<workspace>/<name>/<path>).")

SlugArgument = Annotated[str, typer.Argument(help="The snippet, by slug.", show_default=False)]
PathArgument = Annotated[
    str, typer.Argument(help="Path in the skill, like references/checklist.md.", show_default=False)
]


@contextmanager
def _snippet(workspace: str, slug: str) -> Iterator[tuple[Session, store.WorkspaceRef, uuid.UUID]]:
    with operator_session(operator_settings()) as session:
        ref = store.find_workspace(session, workspace)
        if ref is None:
            fail(f"no workspace {workspace!r}")
        snippet_id = file_store.find_snippet(session, ref, slug)
        if snippet_id is None:
            fail(f"no snippet {slug!r} in {ref.slug}")
        yield session, ref, snippet_id


def _checked(path: str) -> str:
    try:
        return paths.check(path.strip())
    except paths.InvalidPath as error:
        fail(f"{path!r}: {error}")


@files_cli.command("list")
def list_command(workspace: WorkspaceArgument, slug: SlugArgument) -> None:
    """List a snippet's supporting files: path, media type, bytes."""
    with _snippet(workspace, slug) as (session, _, snippet_id):
        files = store.read_files(session, snippet_id)
    for file in files:
        print(f"{file.path}\t{file.media_type}\t{len(file.content)}")


@files_cli.command("add")
def add_command(
    workspace: WorkspaceArgument,
    slug: SlugArgument,
    path: PathArgument,
    source: Annotated[Path, typer.Option("--from", help="The file to store (- for stdin).", show_default=False)],
    media_type: Annotated[
        str | None, typer.Option("--media-type", help="Media type; from the file name if omitted.")
    ] = None,
) -> None:
    """Add a supporting file to a snippet, or replace the one at PATH."""
    path = _checked(path)
    content = _read(source)
    kind = media_type.strip().lower() if media_type is not None else _guess(path, content)
    if not MEDIA_TYPE.match(kind):
        fail(f"{kind!r} is not a media type like text/markdown")
    if len(content) > limits.MAX_FILE_BYTES:
        fail(f"a file has at most {limits.MAX_FILE_BYTES} bytes ({len(content)} given)")
    new = FileRecord(path, kind, content)
    with _snippet(workspace, slug) as (session, ref, snippet_id):
        existing = store.read_files(session, snippet_id)
        others = [f for f in existing if f.path != path]
        if problems := check([*others, new]):
            fail("; ".join(problems))
        file_store.put(session, ref, snippet_id, new, replaced=len(others) < len(existing))
    verb = "replaced" if len(others) < len(existing) else "added"
    print(f"{verb} {path} ({len(content)} bytes, {kind}) in {ref.slug}/{slug}")


@files_cli.command("remove")
def remove_command(workspace: WorkspaceArgument, slug: SlugArgument, path: PathArgument) -> None:
    """Remove a supporting file from a snippet."""
    path = _checked(path)
    with _snippet(workspace, slug) as (session, ref, snippet_id):
        if not file_store.remove(session, ref, snippet_id, path):
            fail(f"{slug} has no file {path}")
    print(f"removed {path} from {ref.slug}/{slug}")


def _read(source: Path) -> bytes:
    if str(source) == "-":
        return sys.stdin.buffer.read(limits.MAX_FILE_BYTES + 1)
    try:
        return source.read_bytes()
    except OSError as error:
        fail(f"cannot read {source}: {error.strerror}")


def _guess(path: str, content: bytes) -> str:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return media_type_for(path, is_text=False)
    return media_type_for(path, is_text=True)
