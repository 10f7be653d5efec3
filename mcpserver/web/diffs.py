"""What changed between two versions of a snippet, in a shape a page can show as a table.

Metadata (title, description, tags, visibility, variables) is compared field by field; the
body line by line with :mod:`difflib`, grouped into hunks with a few lines of context, each
line carrying its numbers in both versions so the table reads without colour too.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Literal

from mcpserver.repository.versions import VersionView

CONTEXT_LINES = 3
LineKind = Literal["context", "added", "removed"]


@dataclass(frozen=True)
class Document:
    """The parts of a version that a diff compares."""

    title: str
    description: str
    tags: str
    visibility: str
    variables: str
    body: str


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class Line:
    kind: LineKind
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class Hunk:
    header: str
    lines: list[Line]


@dataclass(frozen=True)
class VersionDiff:
    fields: list[FieldChange]
    hunks: list[Hunk]
    unified: str

    @property
    def same(self) -> bool:
        return not self.fields and not self.hunks

    @property
    def added(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.kind == "added")

    @property
    def removed(self) -> int:
        return sum(1 for h in self.hunks for line in h.lines if line.kind == "removed")


def describe_variables(variables: list[dict[str, Any]]) -> str:
    """Declared variables as one readable line: ``name (required): description; other = default``."""
    parts = []
    for v in variables:
        text = str(v.get("name", ""))
        if v.get("default") is not None:
            text += f" = {v['default']!r}"
        elif v.get("required", True):
            text += " (required)"
        if v.get("description"):
            text += f": {v['description']}"
        parts.append(text)
    return "; ".join(parts)


def document_of(version: VersionView) -> Document:
    return Document(
        title=version.title,
        description=version.description,
        tags=", ".join(version.tags),
        visibility=version.visibility,
        variables=describe_variables(version.variables),
        body=version.body,
    )


def compare(before: Document, after: Document, *, context: int = CONTEXT_LINES) -> VersionDiff:
    """The changed fields, and the body's changes as hunks (and as a unified diff for copying)."""
    names = ("title", "description", "tags", "visibility", "variables")
    changed = [
        FieldChange(name, getattr(before, name), getattr(after, name))
        for name in names
        if getattr(before, name) != getattr(after, name)
    ]
    old, new = before.body.splitlines(), after.body.splitlines()
    hunks = []
    for group in difflib.SequenceMatcher(None, old, new, autojunk=False).get_grouped_opcodes(context):
        lines: list[Line] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [
                    Line("context", i + 1, j + 1, old[i]) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            if tag in ("replace", "delete"):
                lines += [Line("removed", i + 1, None, old[i]) for i in range(i1, i2)]
            if tag in ("replace", "insert"):
                lines += [Line("added", None, j + 1, new[j]) for j in range(j1, j2)]
        first, last = group[0], group[-1]
        header = f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        hunks.append(Hunk(header, lines))
    unified = "\n".join(difflib.unified_diff(old, new, "before", "after", lineterm="", n=context))
    return VersionDiff(changed, hunks, unified)


def _range(start: int, stop: int) -> str:
    """A hunk's line range as unified diffs write it (1-based start, length)."""
    length = stop - start
    return f"{start + 1},{length}" if length else f"{start},0"
