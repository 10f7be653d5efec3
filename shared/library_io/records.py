"""The exchange record of one snippet, and the checks every imported record passes.

A record is everything a snippet is, independent of any one server: no ids (a snippet is
known by its slug in the workspace, a person by email address), the current state, and the
complete version history. The limits are the ones the MCP tools apply when a person saves a
snippet (``mcpserver/tools/fields.py`` and ``mcpserver/tools/snippets.py``), so an import
can never store what the tools would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared import variables
from shared.library_io import files as skill_files
from shared.library_io.files import FileRecord
from shared.models import VISIBILITIES

MAX_SLUG = 80
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_BODY = 100_000
MAX_TAGS = 20
MAX_TAG = 40
MAX_MESSAGE = 500
MAX_EMAIL = 320
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

STATE_FIELDS = ("title", "description", "body", "tags", "visibility", "variables")
REQUIRED_KEYS = ("slug", *STATE_FIELDS, "version", "author", "created_at", "updated_at", "versions")
SNIPPET_KEYS = (*REQUIRED_KEYS, "files")
VERSION_KEYS = ("version", *STATE_FIELDS, "author", "message", "created_at")


@dataclass(frozen=True)
class VersionRecord:
    """One state in a snippet's history, as ``snippet_versions`` keeps it."""

    version: int
    title: str
    description: str
    body: str
    tags: list[str]
    visibility: str
    variables: list[dict[str, Any]]
    author: str | None
    message: str
    created_at: datetime


@dataclass(frozen=True)
class SnippetRecord:
    """A snippet: its current state, its creator's email, and every version, oldest first."""

    slug: str
    title: str
    description: str
    body: str
    tags: list[str]
    visibility: str
    variables: list[dict[str, Any]]
    version: int
    author: str | None
    created_at: datetime
    updated_at: datetime
    versions: list[VersionRecord]
    files: list[FileRecord] = field(default_factory=list)
    """Supporting files, in path order; only in a record when there are any."""


class InvalidRecord(ValueError):
    """A record that cannot be imported; ``reasons`` lists everything wrong with it."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def to_json(record: SnippetRecord) -> dict[str, Any]:
    """The record as JSON values, keys in a fixed order (exports are byte-for-byte repeatable)."""
    return {
        "slug": record.slug,
        **_state_json(record),
        "version": record.version,
        "author": record.author,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "versions": [
            {
                "version": v.version,
                **_state_json(v),
                "author": v.author,
                "message": v.message,
                "created_at": _iso(v.created_at),
            }
            for v in record.versions
        ],
        **({"files": [skill_files.to_json(f) for f in record.files]} if record.files else {}),
    }


def _state_json(state: SnippetRecord | VersionRecord) -> dict[str, Any]:
    return {name: getattr(state, name) for name in STATE_FIELDS}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def from_json(data: Any) -> SnippetRecord:
    """A checked record from parsed JSON; InvalidRecord lists every problem found."""
    reasons: list[str] = []
    if not isinstance(data, Mapping):
        raise InvalidRecord(["not a JSON object"])
    check = _Checker(data, reasons, "")
    check.keys(SNIPPET_KEYS, required=REQUIRED_KEYS)
    slug = check.slug()
    state = check.state()
    version = check.version("version")
    author = check.email("author")
    created_at = check.moment("created_at")
    updated_at = check.moment("updated_at")
    versions: list[VersionRecord] = []
    raw_versions = data.get("versions")
    if not isinstance(raw_versions, list) or not raw_versions:
        reasons.append("versions: must be a non-empty list (the whole history, oldest first)")
    else:
        for index, raw in enumerate(raw_versions):
            prefix = f"versions[{index}]."
            if not isinstance(raw, Mapping):
                reasons.append(f"versions[{index}]: not a JSON object")
                continue
            vcheck = _Checker(raw, reasons, prefix)
            vcheck.keys(VERSION_KEYS, required=VERSION_KEYS)
            number = vcheck.version("version")
            vstate = vcheck.state()
            vauthor = vcheck.email("author")
            message = vcheck.text("message", MAX_MESSAGE, required=False)
            vcreated = vcheck.moment("created_at")
            versions.append(VersionRecord(number, *vstate, vauthor, message, vcreated))
        numbers = [v.version for v in versions]
        if numbers and numbers != sorted(set(numbers)):
            reasons.append("versions: version numbers must be distinct and ascending")
        elif numbers and numbers[-1] != version:
            reasons.append(f"versions: the last one is {numbers[-1]}, but the snippet is at version {version}")
    files = skill_files.from_json(data["files"], reasons) if "files" in data else []
    if reasons:
        raise InvalidRecord(reasons)
    files.sort(key=lambda f: f.path)
    return SnippetRecord(slug, *state, version, author, created_at, updated_at, versions, files)


class _Checker:
    """Reads typed fields out of one JSON object, appending a reason for each bad one."""

    def __init__(self, data: Mapping[str, Any], reasons: list[str], prefix: str) -> None:
        self.data = data
        self.reasons = reasons
        self.prefix = prefix

    def fail(self, name: str, reason: str) -> None:
        self.reasons.append(f"{self.prefix}{name}: {reason}")

    def keys(self, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
        for name in sorted(set(self.data) - set(allowed)):
            self.fail(name, "unknown field")
        for name in required:
            if name not in self.data:
                self.fail(name, "missing")

    def text(self, name: str, limit: int, *, required: bool = True) -> str:
        value = self.data.get(name, "" if not required else None)
        if not isinstance(value, str):
            if name in self.data or required:
                self.fail(name, "must be a string")
            return ""
        if required and not value.strip():
            self.fail(name, "must not be empty")
        if len(value) > limit:
            self.fail(name, f"at most {limit} characters, not {len(value)}")
        return value

    def slug(self) -> str:
        value = self.data.get("slug")
        if not isinstance(value, str) or not SLUG.match(value) or len(value) > MAX_SLUG:
            self.fail("slug", f"lower-case letters and digits joined by single hyphens, at most {MAX_SLUG} characters")
            return str(value)
        return value

    def state(self) -> tuple[str, str, str, list[str], str, list[dict[str, Any]]]:
        title = self.text("title", MAX_TITLE)
        description = self.text("description", MAX_DESCRIPTION, required=False)
        body = self.text("body", MAX_BODY)
        return title, description, body, self.tags(), self.visibility(), self.variables()

    def tags(self) -> list[str]:
        value = self.data.get("tags")
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            self.fail("tags", "must be a list of strings")
            return []
        for tag in value:
            if tag != " ".join(tag.strip().lower().split()) or not tag:
                self.fail("tags", f"{tag!r} is not a lower-case, trimmed, non-empty tag")
            elif len(tag) > MAX_TAG:
                self.fail("tags", f"{tag!r} is longer than {MAX_TAG} characters")
        if len(set(value)) != len(value):
            self.fail("tags", "a tag appears twice")
        if len(value) > MAX_TAGS:
            self.fail("tags", f"at most {MAX_TAGS} tags")
        return list(value)

    def visibility(self) -> str:
        value = self.data.get("visibility")
        if value not in VISIBILITIES:
            self.fail("visibility", f"must be one of {', '.join(VISIBILITIES)}, not {value!r}")
            return "workspace"
        return str(value)

    def variables(self) -> list[dict[str, Any]]:
        """Declarations as the server stores them (``shared.variables``): named, each name once.

        The body is not checked against them: a snippet saved before a rule existed is still
        a snippet the server holds, and an import must be able to carry it.
        """
        value = self.data.get("variables")
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            self.fail("variables", "must be a list of objects")
            return []
        names: list[str] = []
        for item in value:
            name = item.get("name")
            problem = variable_problem(item)
            if problem:
                self.fail("variables", problem)
            elif name in names:
                self.fail("variables", f"{name!r} is declared twice")
            else:
                names.append(name)
        if len(value) > variables.MAX_VARIABLES:
            self.fail("variables", f"at most {variables.MAX_VARIABLES} variables")
        return [dict(item) for item in value]

    def version(self, name: str) -> int:
        value = self.data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.fail(name, "must be a whole number from 1")
            return 1
        return value

    def email(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not EMAIL.match(value) or len(value) > MAX_EMAIL:
            self.fail(name, "must be an email address or null")
            return None
        return value.strip().lower()

    def moment(self, name: str) -> datetime:
        value = self.data.get(name)
        try:
            if not isinstance(value, str):
                raise ValueError
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise ValueError
            return moment
        except ValueError:
            self.fail(name, "must be an ISO 8601 time with a UTC offset")
            return datetime.min


def variable_problem(declaration: Mapping[str, Any]) -> str | None:
    """Why a stored variable declaration cannot be imported, or None when it can."""
    name = declaration.get("name")
    if not isinstance(name, str) or not variables.NAME.match(name):
        return f"{name!r} is not a variable name (a letter, then letters, digits or underscores; at most 64)"
    description, default = declaration.get("description", ""), declaration.get("default")
    if not isinstance(description, str) or len(description) > variables.MAX_DESCRIPTION:
        return f"the description of {name!r} must be text of at most {variables.MAX_DESCRIPTION} characters"
    if default is not None and (not isinstance(default, str) or len(default) > variables.MAX_DEFAULT):
        return f"the default of {name!r} must be text of at most {variables.MAX_DEFAULT} characters"
    if not isinstance(declaration.get("required", True), bool):
        return f"required of {name!r} must be true or false"
    return None
