"""``shared-skills sync-skills``: the snippets you can read, as Claude Code skills on your machine.

A client command, like any MCP client: it signs in through the server's OAuth flow
(:mod:`shared.oauth_login`, credentials in :mod:`shared.credentials`), reads the library
through the MCP tools and the skills extension (:mod:`shared.library_client`), and writes
one skill folder per snippet (:mod:`shared.skill_format`), with its supporting files, into
the skills folder (:mod:`shared.skill_folders`):
new snippets are created, changed ones rewritten, deleted ones removed, and a folder it did
not create is never touched, even when its name collides (that is reported and skipped).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from shared.library_client import Library, LibraryError, SkillFile, SnippetSummary
from shared.skill_folders import Entry, SkillsFolder, sha256
from shared.skill_format import SkillSource, render_skill_md, skill_name

if TYPE_CHECKING:
    from shared.credentials import CredentialsFile
    from shared.oauth_login import OpenBrowser

# Part of every skill's source key: raise it when the SKILL.md rendering changes, so that the
# next sync rewrites every skill even though no snippet changed.
RENDERING = "2"
DEFAULT_DEST = Path("~/.claude/skills")

Action = Literal["create", "update", "remove", "keep", "skip"]


class SyncError(RuntimeError):
    """The sync cannot go on; the message tells the user why."""


@dataclass(frozen=True)
class Change:
    """What the sync did (or, in a dry run, would do) to one skill folder."""

    action: Action
    name: str
    note: str = ""


async def sync(
    server_url: str,
    dest: Path,
    *,
    workspace: str | None = None,
    dry_run: bool = False,
    open_browser: OpenBrowser | None = None,
    credentials: CredentialsFile | None = None,
) -> list[Change]:
    """Bring ``dest`` in line with the snippets the signed-in user can read on ``server_url``."""
    # Imported here, not at the top, so that the other shared-skills commands start without
    # loading the MCP client.
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    from shared.credentials import CredentialsFile
    from shared.oauth_login import LoopbackRedirect, open_system_browser, signed_in_http_client

    folder = SkillsFolder(dest)
    credentials = credentials or CredentialsFile(server_url)
    async with (
        LoopbackRedirect() as listener,
        signed_in_http_client(server_url, listener, credentials, open_browser or open_system_browser) as http,
        Client(streamable_http_client(server_url, http_client=http)) as client,
    ):
        return await _sync(Library(client), folder, server_url, workspace, dry_run)


async def _sync(
    library: Library, folder: SkillsFolder, server_url: str, workspace: str | None, dry_run: bool
) -> list[Change]:
    workspaces = await library.workspaces()
    only = _workspace_id(workspace, workspaces) if workspace else None
    summaries = await library.snippets(only)
    owned = {entry.snippet_id: name for name, entry in folder.entries.items() if entry.server == server_url}
    wanted = assign_names(summaries, workspaces, owned)
    served = await library.skill_files()
    members = await member_names(library, [only] if only else list(workspaces))

    changes: list[Change] = []
    for name in sorted(wanted):
        summary = wanted[name]
        label = workspaces.get(summary.workspace_id, summary.workspace_id)
        files = served.get(f"skill://{label}/{skill_name(summary.slug)}/SKILL.md", [])
        names = members.get(summary.workspace_id, {})
        changes.append(
            await _bring_up_to_date(library, folder, server_url, name, summary, label, files, names, dry_run)
        )
    for name, entry in sorted(folder.entries.items()):
        if entry.server != server_url or name in wanted or (only is not None and entry.workspace_id != only):
            continue
        if dry_run:
            changes.append(Change("remove", name))
        else:
            removed = folder.remove(name)
            changes.append(Change("remove", name, "" if removed else "the folder stays: it holds other files"))
    return changes


async def _bring_up_to_date(
    library: Library,
    folder: SkillsFolder,
    server_url: str,
    name: str,
    summary: SnippetSummary,
    workspace: str,
    files: list[SkillFile],
    members: dict[str, str],
    dry_run: bool,
) -> Change:
    entry = folder.entries.get(name)
    if entry is not None and entry.server != server_url:
        return Change("skip", name, f"the name is taken by a skill synced from {entry.server}")
    if entry is None and folder.occupied(name):
        return Change("skip", name, "a folder sync-skills did not create has this name")
    key = source_key(summary, workspace, name, files, members)
    on_disk = folder.current_hash(name) if entry is not None else None
    intact = entry is not None and on_disk == entry.sha256 and folder.files_intact(name, entry)
    if intact and entry is not None and entry.snippet_id == summary.id and entry.source_key == key:
        return Change("keep", name)
    snippet = await library.snippet(summary.id)
    author = members.get(snippet.get("created_by") or "")
    content = render_skill_md(skill_source(snippet, workspace, name, author)).encode()
    contents = {f.path: await library.read(f.uri) for f in files}
    hashes = {path: sha256(data) for path, data in contents.items()}
    new_entry = Entry(server_url, summary.id, summary.workspace_id, key, sha256(content), hashes)
    unchanged = entry is not None and on_disk == new_entry.sha256 and set(entry.files) == set(hashes)
    if unchanged and folder.files_intact(name, new_entry):
        if not dry_run:
            folder.entries[name] = new_entry
            folder.save()
        return Change("keep", name)
    skipped = folder.write(name, new_entry, content, contents) if not dry_run else []
    note = f"left alone, not written by sync-skills: {', '.join(skipped)}" if skipped else ""
    return Change("update" if entry is not None else "create", name, note)


def _workspace_id(workspace: str, workspaces: dict[str, str]) -> str:
    """The id of a workspace given by slug or id."""
    if workspace in workspaces:
        return workspace
    for workspace_id, slug in workspaces.items():
        if slug == workspace:
            return workspace_id
    try:
        return str(uuid.UUID(workspace))  # a workspace you are not in, for its public snippets
    except ValueError:
        raise SyncError(f"you are not a member of a workspace {workspace!r}") from None


def assign_names(
    summaries: Sequence[SnippetSummary], workspaces: dict[str, str], owned: dict[str, str]
) -> dict[str, SnippetSummary]:
    """A distinct skill name for every snippet, stable from one run to the next.

    A snippet's name is its slug's skill name. When snippets of several workspaces share a
    slug, the one that already has that folder keeps it (else the first by workspace slug)
    and the others are named ``<workspace>-<slug>``.
    """
    groups: dict[str, list[SnippetSummary]] = defaultdict(list)
    for summary in summaries:
        groups[skill_name(summary.slug)].append(summary)
    names: dict[str, SnippetSummary] = {}
    later: list[SnippetSummary] = []
    for base, group in groups.items():
        group.sort(key=lambda s: (owned.get(s.id) != base, workspaces.get(s.workspace_id, "~"), s.workspace_id))
        names[base] = group[0]
        later.extend(group[1:])
    for summary in sorted(later, key=lambda s: (workspaces.get(s.workspace_id, "~"), s.slug, s.id)):
        workspace = workspaces.get(summary.workspace_id, summary.workspace_id[:8])
        name = skill_name(f"{workspace}-{summary.slug}")
        if name in names or name in groups:
            name = skill_name(f"{workspace}-{summary.slug}-{summary.id[:8]}")
        names[name] = summary
    return names


def source_key(
    summary: SnippetSummary,
    workspace: str,
    name: str,
    files: Sequence[SkillFile] = (),
    members: dict[str, str] | None = None,
) -> str:
    """Changes whenever the skill's files would: a new version, a renamed workspace, new
    rendering, a supporting file added, changed or removed, a member of the workspace renamed
    (the author's name is in ``SKILL.md``; the summary does not say who the author is)."""
    facts = [RENDERING, summary.id, summary.version, summary.updated_at, workspace, name]
    facts += sorted(f"{f.path}:{f.sha256}" for f in files)
    facts += sorted(f"{user}:{member}" for user, member in (members or {}).items())
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()


async def member_names(library: Library, workspace_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """The display names ``list_members`` shows, by workspace id and user id (those with a name).

    A snippet's author is its creator's name from here, as the server's skills extension does
    (:mod:`mcpserver.skills.authors`): absent outside the user's workspaces.
    """
    names: dict[str, dict[str, str]] = {}
    for workspace_id in workspace_ids:
        listed = await library.call("list_members", {"workspace_id": workspace_id})
        names[workspace_id] = {m["user_id"]: m["name"] for m in listed.get("members", []) if m.get("name")}
    return names


def skill_source(snippet: dict[str, Any], workspace: str, name: str, author: str | None = None) -> SkillSource:
    """The skill's plain values from ``get_snippet``'s structured result, and its ``author``."""
    return SkillSource(
        slug=snippet["slug"],
        title=snippet["title"],
        body=snippet["body"],
        description=snippet.get("description") or "",
        workspace=workspace,
        version=int(snippet["version"]),
        tags=tuple(snippet.get("tags") or ()),
        variables=tuple(v["name"] for v in snippet.get("variables") or () if isinstance(v, dict) and "name" in v),
        author=author,
        updated_at=snippet.get("updated_at"),
        name=name,
    )


# The command ---------------------------------------------------------------------------

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

VERBS: dict[Action, tuple[str, str]] = {
    "create": ("created", "would create"),
    "update": ("updated", "would update"),
    "remove": ("removed", "would remove"),
    "keep": ("unchanged", "unchanged"),
    "skip": ("skipped", "would skip"),
}


def sync_skills_command(
    server: Annotated[str, typer.Option("--server", help="The MCP endpoint, e.g. https://skills.example.com/mcp.")],
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this workspace (slug or id).")
    ] = None,
    dest: Annotated[Path, typer.Option("--dest", help="The skills folder to write into.")] = DEFAULT_DEST,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
) -> None:
    """Write every snippet you can read as a Claude Code skill (<dest>/<name>/SKILL.md), signing in if needed."""
    # The SDK logs failures with their tracebacks; this command explains them in one line instead.
    logging.getLogger("mcp").addHandler(logging.NullHandler())
    server = server.strip().rstrip("/")
    if not server.startswith(("https://", "http://")):
        _fail(f"--server must be the server's MCP URL (https://…/mcp), not {server!r}")
    try:
        changes = asyncio.run(sync(server, dest.expanduser(), workspace=workspace, dry_run=dry_run))
    except BaseException as error:  # every failure becomes one line, never a traceback
        _fail(_explain(_root_cause(error), server))
    _report(changes, dest, dry_run)


def _report(changes: list[Change], dest: Path, dry_run: bool) -> None:
    counts: dict[Action, int] = defaultdict(int)
    for change in changes:
        counts[change.action] += 1
        if change.action != "keep":
            verb = VERBS[change.action][1 if dry_run else 0]
            line = f"{verb:<13} {change.name}" + (f"  ({change.note})" if change.note else "")
            (err if change.action == "skip" else out).print(line, soft_wrap=True)
    summary = ", ".join(f"{counts[a]} {VERBS[a][1 if dry_run else 0]}" for a in VERBS if counts[a]) or "nothing to do"
    out.print(f"{summary} in {dest}" + (" (dry run: nothing written)" if dry_run else ""), soft_wrap=True)


def _root_cause(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


def _explain(error: BaseException, server: str) -> str:
    import httpx2
    from mcp.client.auth import OAuthFlowError, OAuthRegistrationError, OAuthTokenError

    if isinstance(error, KeyboardInterrupt | asyncio.CancelledError):
        return "interrupted"
    if isinstance(error, OAuthFlowError | OAuthTokenError | OAuthRegistrationError):
        return f"sign-in failed: {error}"
    if isinstance(error, httpx2.ConnectError | httpx2.TimeoutException):
        return f"cannot reach {server}: {error or type(error).__name__}"
    if isinstance(error, SyncError | LibraryError | ValueError | OSError):
        return str(error)
    if isinstance(error, httpx2.HTTPError):
        return f"{server}: {error}"
    return f"sync failed: {type(error).__name__}: {error}"


def _fail(message: str) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    sys.stdout.flush()
    raise typer.Exit(1)
