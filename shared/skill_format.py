"""A snippet as an Agent Skill: the ``SKILL.md`` file, as pure functions of plain values.

The Agent Skills format (agentskills.io, read by Claude Code from ``~/.claude/skills``) is a
folder named after the skill holding ``SKILL.md``: YAML front matter with ``name`` (lower-case
letters, digits and single hyphens, at most 64 characters, equal to the folder name) and
``description`` (at most 1024 characters, what the agent reads to decide when to use it),
optional ``metadata`` (string keys to string values), then the Markdown instructions.

The ``sync-skills`` client writes these files and the MCP server will serve the same bytes as
``skill://<workspace>/<name>/SKILL.md``, so :func:`render_skill_md` takes a small dataclass
both can fill and is deterministic: fixed key order, LF line endings, one trailing newline.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared import front_matter

MAX_NAME = 64
MAX_DESCRIPTION = 1024
_NOT_NAME = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class SkillSource:
    """What a skill is made of: a snippet's current state, in plain values.

    ``variables`` are the names of the snippet's ``{{variables}}``; ``updated_at`` is an
    ISO 8601 string as the MCP tools give it; ``author`` is whatever names the creator
    (an email address or a display name), or None. ``name`` overrides the skill name
    derived from the slug (a client that must tell two same-slug snippets apart).
    """

    slug: str
    title: str
    body: str
    description: str = ""
    workspace: str = ""
    version: int = 1
    tags: Sequence[str] = field(default_factory=tuple)
    variables: Sequence[str] = field(default_factory=tuple)
    author: str | None = None
    updated_at: str | None = None
    name: str | None = None


def skill_name(slug: str) -> str:
    """The skill name for a snippet slug: the same slug when it is a valid name, else a stable one.

    Snippet slugs are already lower-case words joined by single hyphens, so almost every slug
    is its own skill name. A longer one keeps its first 55 characters and gets 8 hex digits
    of its hash, so that two long slugs sharing a beginning still get different names.
    """
    name = _NOT_NAME.sub("-", slug.lower()).strip("-") or "snippet"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(slug.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{digest}"


def skill_description(source: SkillSource) -> str:
    """The snippet's own description; without one, its title and the start of its body.

    Cut to 1024 characters (with an ellipsis) and never empty: the agent decides from this
    text alone whether to load the skill.
    """
    description = source.description.strip()
    if not description:
        summary = " ".join(source.body.split())
        title = " ".join(source.title.split()) or source.slug
        description = f"{title}: {summary}" if summary else title
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return description


def skill_metadata(source: SkillSource) -> dict[str, str]:
    """The snippet's other fields as the string-to-string ``metadata`` map, in a fixed order."""
    entries = {
        "title": source.title,
        "workspace": source.workspace,
        "slug": source.slug,
        "version": str(source.version),
        "tags": ", ".join(source.tags),
        "variables": ", ".join(source.variables),
        "author": source.author or "",
        "updated": source.updated_at or "",
    }
    return {key: value for key, value in entries.items() if value}


def render_skill_md(source: SkillSource) -> str:
    """The complete ``SKILL.md`` text (encode it as UTF-8): front matter, then the snippet body."""
    meta = {
        "name": skill_name(source.name or source.slug),
        "description": skill_description(source),
        "metadata": skill_metadata(source),
    }
    return front_matter.compose(meta, source.body)
