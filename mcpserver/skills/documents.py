"""A snippet's ``SKILL.md``: the same bytes ``sync-skills`` writes, and their front matter.

``sync-skills`` fills :class:`shared.skill_format.SkillSource` from ``get_snippet``'s result;
this fills it from the same repository view that result is made of (``updated_at`` as
``get_snippet`` formats it, variable names, tags in order), so that a skill loaded over MCP
and a synced one are byte for byte the same file. ``tests/mcpserver/test_skills_documents.py``
holds the two paths together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from mcpserver.repository.snippets import SnippetView
from mcpserver.skills.uris import skill_md_uri
from shared.skill_format import SkillSource, render_skill_md, skill_description, skill_metadata, skill_name


@dataclass(frozen=True)
class SkillDocument:
    """A rendered ``SKILL.md`` with what the listing and the reads say about it."""

    workspace: str
    name: str
    front_matter: dict[str, Any]
    data: bytes

    @property
    def uri(self) -> str:
        return skill_md_uri(self.workspace, self.name)

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    @property
    def description(self) -> str:
        return str(self.front_matter["description"])


def skill_source(view: SnippetView, workspace: str, author: str | None = None) -> SkillSource:
    """The snippet's plain values, as ``sync-skills`` takes them from ``get_snippet``; ``author``
    by the rule both share (:mod:`mcpserver.skills.authors`)."""
    return SkillSource(
        slug=view.slug,
        title=view.title,
        body=view.body,
        description=view.description or "",
        workspace=workspace,
        version=view.version,
        tags=tuple(view.tags),
        variables=tuple(v["name"] for v in view.variables if isinstance(v, dict) and "name" in v),
        author=author,
        updated_at=view.updated_at.isoformat(),
    )


def skill_document(view: SnippetView, workspace: str, author: str | None = None) -> SkillDocument:
    source = skill_source(view, workspace, author)
    name = skill_name(source.slug)
    # The front matter render_skill_md writes, as the JSON object a YAML parser reads back.
    front_matter = {"name": name, "description": skill_description(source), "metadata": skill_metadata(source)}
    return SkillDocument(workspace, name, front_matter, render_skill_md(source).encode())
