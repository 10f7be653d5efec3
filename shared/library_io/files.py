"""A snippet's supporting files in an exchange record: ``files: [{path, media_type, text | content_base64, sha256}]``.

Text files (a text media type, valid UTF-8) are carried as ``text``, every other file as
``content_base64``; ``sha256`` is checked against the bytes on import. The paths and limits
are the server's (:mod:`shared.skill_rules`), so an import never stores what the tools refuse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.skill_rules import files as rules
from shared.skill_rules.media_types import is_text

FILE_KEYS = ("path", "media_type", "text", "content_base64", "sha256")


@dataclass(frozen=True)
class FileRecord:
    """One supporting file: where it lies in the skill, its type and its bytes."""

    path: str
    media_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def to_json(file: FileRecord) -> dict[str, Any]:
    body = (
        {"text": file.content.decode()}
        if is_text(file.media_type, file.content)
        else {"content_base64": base64.b64encode(file.content).decode()}
    )
    return {"path": file.path, "media_type": file.media_type, **body, "sha256": file.sha256}


def from_json(value: Any, reasons: list[str]) -> list[FileRecord]:
    """The files of a record's ``files`` list; appends a reason for everything wrong."""
    if not isinstance(value, list):
        reasons.append("files: must be a list of objects")
        return []
    found: list[FileRecord] = []
    for index, item in enumerate(value):
        where = f"files[{index}]"
        if not isinstance(item, Mapping):
            reasons.append(f"{where}: not a JSON object")
            continue
        file = _file(item, where, reasons)
        if file is not None:
            found.append(file)
    reasons.extend(f"files: {problem}" for problem in check(found))
    return found


def check(files: list[FileRecord]) -> list[str]:
    """What is wrong with this set of files as one skill's: paths, collisions, limits."""
    return rules.problems({f.path: (f.media_type, len(f.content)) for f in files})


def _file(item: Mapping[str, Any], where: str, reasons: list[str]) -> FileRecord | None:
    for key in sorted(set(item) - set(FILE_KEYS)):
        reasons.append(f"{where}.{key}: unknown field")
    path, media_type, digest = item.get("path"), item.get("media_type"), item.get("sha256")
    if not isinstance(path, str) or not isinstance(media_type, str) or not isinstance(digest, str):
        reasons.append(f"{where}: path, media_type and sha256 are strings")
        return None
    text, encoded = item.get("text"), item.get("content_base64")
    if (text is None) == (encoded is None):
        reasons.append(f"{where}: give text or content_base64, not both")
        return None
    if text is not None:
        if not isinstance(text, str):
            reasons.append(f"{where}.text: must be a string")
            return None
        content = text.encode()
    else:
        try:
            content = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            reasons.append(f"{where}.content_base64: not base64")
            return None
    file = FileRecord(path, media_type, content)
    if file.sha256 != digest:
        reasons.append(f"{where}.sha256: does not match the content")
        return None
    return file
