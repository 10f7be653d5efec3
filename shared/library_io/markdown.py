"""A folder of Markdown files: ``<slug>.md`` per snippet, front matter, then the body.

Made for reading and editing by people (and for keeping a library in git): only the current
state of each snippet, no history. Written bodies get one newline appended, which reading
removes again, so a body reads back exactly as it was. A file read back becomes a snippet
whose history is that one version.

A snippet's supporting files lie beside it in ``<slug>.files/<path>``, their bytes as they
are; reading them back, each file's media type comes from its name (:mod:`shared.skill_rules`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from shared import front_matter
from shared.library_io import files as skill_files
from shared.library_io.files import FileRecord
from shared.library_io.records import InvalidRecord, SnippetRecord, from_json, to_json
from shared.skill_rules.media_types import media_type_for

SUFFIX = ".md"
FILES_SUFFIX = ".files"
FRONT_MATTER_KEYS = (
    "title",
    "slug",
    "description",
    "tags",
    "visibility",
    "variables",
    "version",
    "author",
    "created_at",
    "updated_at",
)
IMPORTED = "imported from Markdown"


def file_name(record: SnippetRecord) -> str:
    return record.slug + SUFFIX


def write_record(folder: Path, record: SnippetRecord) -> None:
    """``<slug>.md`` and, when it has any, its supporting files in ``<slug>.files/``."""
    (folder / file_name(record)).write_bytes(dump_file(record).encode())
    for file in record.files:
        target = folder / (record.slug + FILES_SUFFIX) / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.content)


def dump_file(record: SnippetRecord) -> str:
    data = to_json(record)
    meta = {key: data[key] for key in FRONT_MATTER_KEYS}
    return f"{front_matter.DELIMITER}\n{front_matter.dump(meta)}{front_matter.DELIMITER}\n{record.body}\n"


def read_folder(folder: Path) -> Iterator[tuple[str, SnippetRecord | InvalidRecord]]:
    """Each ``*.md`` file's name and its record, or what is wrong with it, in name order."""
    for path in sorted(folder.glob("*" + SUFFIX)):
        if path.is_file():
            yield path.name, read_file(path)


def read_file(path: Path) -> SnippetRecord | InvalidRecord:
    """The record of one Markdown file, with the supporting files beside it."""
    record = _read_markdown(path)
    if isinstance(record, InvalidRecord):
        return record
    folder = path.with_name(path.name.removesuffix(SUFFIX) + FILES_SUFFIX)
    if not folder.is_dir():
        return record
    try:
        files = [_read_supporting(folder, item) for item in sorted(folder.rglob("*")) if not item.is_dir()]
    except OSError as error:
        return InvalidRecord([f"{folder.name}: cannot read: {error.strerror}"])
    problems = skill_files.check(files)
    if problems:
        return InvalidRecord([f"{folder.name}: {problem}" for problem in problems])
    return replace(record, files=sorted(files, key=lambda f: f.path))


def _read_supporting(folder: Path, item: Path) -> FileRecord:
    content = item.read_bytes()
    path = item.relative_to(folder).as_posix()
    try:
        content.decode("utf-8")
        text = True
    except UnicodeDecodeError:
        text = False
    return FileRecord(path, media_type_for(path, is_text=text), content)


def _read_markdown(path: Path) -> SnippetRecord | InvalidRecord:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return InvalidRecord(["not UTF-8 text"])
    except OSError as error:
        return InvalidRecord([f"cannot read: {error.strerror}"])
    try:
        meta, body = front_matter.split(text)
    except front_matter.FrontMatterError as error:
        return InvalidRecord([str(error)])
    unknown = sorted(set(meta) - set(FRONT_MATTER_KEYS))
    meta = {key: _plain(value) for key, value in meta.items()}
    now = datetime.now().astimezone().isoformat()
    state = {
        "title": meta.get("title"),
        "description": meta.get("description") or "",
        "body": body.removesuffix("\n"),
        "tags": meta.get("tags") or [],
        "visibility": meta.get("visibility", "workspace"),
        "variables": meta.get("variables") or [],
    }
    version = meta.get("version", 1)
    updated_at = meta.get("updated_at") or now
    data = {
        "slug": meta.get("slug", path.name.removesuffix(SUFFIX)),
        **state,
        "version": version,
        "author": meta.get("author"),
        "created_at": meta.get("created_at") or updated_at,
        "updated_at": updated_at,
        "versions": [
            {
                "version": version,
                **state,
                "author": meta.get("author"),
                "message": IMPORTED,
                "created_at": updated_at,
            }
        ],
    }
    try:
        record = from_json(data)
    except InvalidRecord as invalid:
        return InvalidRecord([*(f"{key}: unknown front matter field" for key in unknown), *_once(invalid.reasons)])
    if unknown:
        return InvalidRecord([f"{key}: unknown front matter field" for key in unknown])
    return record


def _plain(value: Any) -> Any:
    """YAML's own types as the JSON values records hold (an unquoted time becomes text)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _once(reasons: list[str]) -> list[str]:
    """Each reason once, without the ``versions[0].`` copy of a front-matter field's problem."""
    seen: list[str] = []
    for reason in reasons:
        reason = reason.removeprefix("versions[0].")
        if reason not in seen:
            seen.append(reason)
    return seen
