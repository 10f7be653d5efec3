"""Skill URIs: ``skill://<workspace>/<name>/<path>``.

``<workspace>`` is the workspace's slug for its members; a public skill of a workspace the
caller is not in is addressed by the workspace's id instead, because its slug is not theirs
to see (the same label ``sync-skills`` writes into the skill's metadata). ``<name>`` is the
front matter ``name``; ``<path>`` is ``SKILL.md``, a supporting file, or a directory. A
directory URI has no trailing slash; the skill's root is ``skill://<workspace>/<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEME = "skill://"
SKILL_FILE = "SKILL.md"


@dataclass(frozen=True)
class SkillAddress:
    """Where a URI points: a skill, and a path inside it ("" for its root directory)."""

    workspace: str
    name: str
    path: str = ""

    @property
    def root(self) -> str:
        return f"{SCHEME}{self.workspace}/{self.name}"

    @property
    def uri(self) -> str:
        return f"{self.root}/{self.path}" if self.path else self.root


def skill_md_uri(workspace: str, name: str) -> str:
    return f"{SCHEME}{workspace}/{name}/{SKILL_FILE}"


def file_uri(workspace: str, name: str, path: str) -> str:
    return f"{SCHEME}{workspace}/{name}/{path}"


def parse(uri: str) -> SkillAddress | None:
    """The address in a ``skill://`` URI; None when it cannot name anything this server serves."""
    if not uri.startswith(SCHEME) or "?" in uri or "#" in uri:
        return None
    segments = uri[len(SCHEME) :].split("/")
    if len(segments) < 2 or any(s in ("", ".", "..") for s in segments):
        return None
    workspace, name, *rest = segments
    return SkillAddress(workspace, name, "/".join(rest))
