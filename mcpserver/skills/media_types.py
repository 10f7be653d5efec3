"""The media type of a supporting file, from its name: fixed here so every machine agrees.

(``mimetypes`` reads the system's tables, which differ between machines.) Text types are
served as text, everything else as base64 blobs.
"""

from __future__ import annotations

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
