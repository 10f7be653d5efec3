"""Paths of supporting files inside a skill, and the rules they follow.

A path is relative and ``/``-separated, as in the Agent Skills folder layout
(``references/checklist.md``, ``templates/email.md``). Each segment starts with a letter or
digit and holds only letters, digits, ``.``, ``_`` and ``-``: such a path is the same string
in a URI and on every file system ``sync-skills`` writes to, and it can never climb out of
the skill (no ``..``, no absolute paths, no hidden files). ``SKILL.md`` at the root is the
skill itself, never a supporting file.
"""

from __future__ import annotations

import re

SKILL_FILE = "SKILL.md"

MAX_PATH = 255
MAX_DEPTH = 8
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class InvalidPath(ValueError):
    """Not a path a supporting file may have; the message says why."""


def check(path: str) -> str:
    """``path`` when it may name a supporting file, else InvalidPath."""
    if not path or len(path) > MAX_PATH:
        raise InvalidPath(f"a path has 1 to {MAX_PATH} characters")
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidPath(f"at most {MAX_DEPTH} levels of folders")
    for segment in segments:
        if not _SEGMENT.match(segment):
            raise InvalidPath(
                "each part of the path starts with a letter or digit and holds only letters, digits, '.', '_' and '-'"
                " (like references/checklist.md)"
            )
    if path.lower() == SKILL_FILE.lower():
        raise InvalidPath("SKILL.md is the skill itself, rendered from the snippet; choose another name")
    return path


def parents(path: str) -> list[str]:
    """The folders a path lies in, outermost first (``a/b/c.md`` → ``a``, ``a/b``)."""
    segments = path.split("/")
    return ["/".join(segments[:i]) for i in range(1, len(segments))]


def collision(path: str, existing: list[str]) -> str | None:
    """Why ``path`` cannot join ``existing`` files, or None.

    A file cannot share its path with a folder, and two paths that differ only in case would
    overwrite each other on a case-insensitive disk.
    """
    lowered = path.lower()
    folders = {p.lower() for other in existing for p in parents(other)}
    if lowered in folders:
        return f"{path} is a folder of other files"
    others = {other.lower(): other for other in existing if other != path}
    for folder in parents(path):
        if folder.lower() in others:
            return f"{others[folder.lower()]} is a file, so it cannot be a folder"
    if lowered in others:
        return f"{others[lowered]} differs only in case"
    return None
