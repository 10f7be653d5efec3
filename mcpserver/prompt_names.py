"""Prompt names: how a snippet is called as an MCP prompt (and a Claude Code slash command).

A prompt is named ``<workspace>_<snippet>``: the workspace's slug, an underscore, the
snippet's slug (``team-notes_code-review``, so ``/mcp__shared-skills__team-notes_code-review``
in Claude Code). Slugs are lower-case letters, digits and single hyphens, so the one
underscore separates them unambiguously. A public snippet of a workspace the caller is not
in is named after that workspace's id instead, whose slug the caller may not see:
``ws-<first 12 hex digits of the workspace id>_<snippet>``; workspace slugs never take
that shape (``repository.workspaces.create``).

Stable: a name depends only on the snippet's own slug, its workspace and whether the caller
is a member, never on which other snippets exist. Unique per caller: workspace slugs are
unique, snippet slugs are unique within a workspace (and 48 bits of workspace id keep
foreign workspaces apart).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

FOREIGN_WORKSPACE = re.compile(r"^ws-[0-9a-f]{12}$")
_NAME = re.compile(r"^([a-z0-9]+(?:-[a-z0-9]+)*)_([a-z0-9]+(?:-[a-z0-9]+)*)$")


@dataclass(frozen=True)
class PromptName:
    """A parsed prompt name: a member workspace's slug, or the id prefix of a foreign one."""

    workspace_slug: str | None
    workspace_id_prefix: str | None
    snippet_slug: str


def prompt_name(workspace_slug: str | None, workspace_id: uuid.UUID, snippet_slug: str) -> str:
    """The name of a snippet for a caller; ``workspace_slug`` is None when the caller is not a member."""
    owner = workspace_slug if workspace_slug is not None else f"ws-{workspace_id.hex[:12]}"
    return f"{owner}_{snippet_slug}"


def parse(name: str) -> PromptName | None:
    """The parts of a name made by :func:`prompt_name`; None for anything else."""
    match = _NAME.match(name)
    if match is None:
        return None
    owner, snippet_slug = match.groups()
    if FOREIGN_WORKSPACE.match(owner):
        return PromptName(None, owner.removeprefix("ws-"), snippet_slug)
    return PromptName(owner, None, snippet_slug)


def id_range(hex_prefix: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The smallest and largest UUID starting with ``hex_prefix``: a range an index can scan."""
    return uuid.UUID(hex_prefix.ljust(32, "0")), uuid.UUID(hex_prefix.ljust(32, "f"))
