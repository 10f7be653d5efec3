"""Checking a whole set of supporting files at once: paths, collisions and the extension's limits.

The server checks one file at a time as it is added (:mod:`mcpserver.repository.skill_files`);
an import or the ``files`` command checks the set a snippet would end up with, by the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.skill_rules import limits, paths
from shared.skill_rules.media_types import MEDIA_TYPE


def problems(files: Mapping[str, tuple[str, int]]) -> list[str]:
    """Everything wrong with a snippet's files, given as path to (media type, size in bytes)."""
    found: list[str] = []
    seen: list[str] = []
    for path, (media_type, size) in files.items():
        try:
            paths.check(path)
        except paths.InvalidPath as error:
            found.append(f"{path!r}: {error}")
            continue
        if path in seen:
            found.append(f"{path}: appears twice")
        elif collision := paths.collision(path, seen):
            found.append(f"{path}: {collision}")
        else:
            seen.append(path)
        if not MEDIA_TYPE.match(media_type):
            found.append(f"{path}: {media_type!r} is not a media type like text/markdown")
        if size > limits.MAX_FILE_BYTES:
            found.append(f"{path}: a file has at most {limits.MAX_FILE_BYTES} bytes, not {size}")
    if len(files) > limits.MAX_SUPPORTING_FILES:
        found.append(f"at most {limits.MAX_SUPPORTING_FILES} files per skill (SKILL.md makes {limits.MAX_FILES})")
    total = sum(size for _, size in files.values())
    if total > limits.MAX_SUPPORTING_BYTES:
        most = limits.MAX_SUPPORTING_BYTES
        found.append(f"a skill's supporting files hold at most {most} bytes together, not {total}")
    return found
