"""The media type of a supporting file, from its name: fixed here so every machine agrees.

(``mimetypes`` reads the system's tables, which differ between machines.) Text types are
served as text, everything else as base64 blobs.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

BY_SUFFIX = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".html": "text/html",
    ".css": "text/css",
    ".xml": "application/xml",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".ts": "text/x-typescript",
    ".sh": "text/x-shellscript",
    ".sql": "application/sql",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
}
TEXT_APPLICATION_TYPES = frozenset(
    {"application/json", "application/yaml", "application/toml", "application/xml", "application/sql"}
)
DIRECTORY = "inode/directory"


def media_type_for(path: str, *, is_text: bool) -> str:
    return BY_SUFFIX.get(PurePosixPath(path).suffix.lower(), "text/plain" if is_text else "application/octet-stream")


def is_text_type(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in TEXT_APPLICATION_TYPES or media_type.endswith("+xml")


MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}$")
"""A media type as stored: lower-case ``type/subtype``, no parameters."""


def is_text(media_type: str, content: bytes) -> bool:
    """Whether a file is carried as text: a text type whose bytes are valid UTF-8 (as the server serves it)."""
    if not is_text_type(media_type):
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
