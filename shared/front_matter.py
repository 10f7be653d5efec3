"""YAML front matter for Markdown files: written here byte for byte, read with a YAML parser.

Writing is our own small emitter rather than a YAML library's: the bytes must be the same on
every machine and every library version (``SKILL.md`` files are compared by hash, and served
verbatim over MCP), and the MCP server must render them without a YAML dependency. It writes
block style, plain scalars only where no YAML 1.1 or 1.2 parser could read them as anything
but that string, and double-quoted scalars with escapes for everything else, so colons,
quotes, newlines and unusual characters read back exactly.

Reading (only the operator's Markdown import needs it) uses PyYAML's safe loader.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

DELIMITER = "---"

# Plain scalars we emit: a letter first (so never a number, date or time), then letters,
# digits and a few punctuation marks that mean nothing to YAML inside a word.
_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.@/+-]*$")
# Words YAML 1.1 resolves to booleans or null in any case (``Yes``, ``OFF``, ``Null``).
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


class FrontMatterError(ValueError):
    """A file's front matter is missing or is not a YAML mapping; the message says which."""


def quoted(value: str) -> str:
    """A YAML double-quoted scalar that every parser reads back as exactly ``value``.

    Escaped: quotes, backslashes, every control and line-break character (YAML would fold
    a raw line break into a space, and treats NEL, LS and PS as line breaks), the byte order
    mark and non-characters a YAML reader refuses. Everything else stays as written.
    """
    parts: list[str] = []
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            parts.append(_ESCAPES[char])
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            parts.append(f"\\x{code:02x}")
        elif code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF) or 0xD800 <= code <= 0xDFFF:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(char)
    return '"' + "".join(parts) + '"'


def scalar(value: str | int | bool | None) -> str:
    """One scalar: ``null``, ``true``/``false``, an integer, a plain word, or a quoted string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return quoted(value)


def dump(mapping: Mapping[str, Any], indent: int = 0) -> str:
    """A block-style YAML mapping, keys in the given order, each line ending in LF."""
    lines: list[str] = []
    pad = " " * indent
    for key, value in mapping.items():
        lines.extend(_entry(f"{pad}{scalar(key)}:", value, indent))
    return "".join(line + "\n" for line in lines)


def _entry(head: str, value: Any, indent: int) -> list[str]:
    if isinstance(value, Mapping):
        if not value:
            return [f"{head} {{}}"]
        return [head, *dump(value, indent + 2).splitlines()]
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return [f"{head} []"]
        return [head, *_sequence(value, indent + 2)]
    return [f"{head} {scalar(value)}"]


def _sequence(items: Sequence[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            # "- key: value" with the other keys aligned under the first.
            nested = dump(item, indent + 2).splitlines()
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        elif isinstance(item, Mapping):
            lines.append(f"{pad}- {{}}")
        elif isinstance(item, Sequence) and not isinstance(item, str):
            raise TypeError("nested sequences are not written in front matter")
        else:
            lines.append(f"{pad}- {scalar(item)}")
    return lines


def compose(meta: Mapping[str, Any], body: str) -> str:
    """A Markdown document: front matter between ``---`` lines, then the body.

    Line endings become LF and the text ends with one newline (added if the body has none).
    """
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    return f"{DELIMITER}\n{dump(meta)}{DELIMITER}\n{body}"


def split(text: str) -> tuple[dict[str, Any], str]:
    """The front matter (a mapping) and the body of a Markdown document.

    Raises FrontMatterError when the document has no front matter or it is not a mapping.
    """
    text = text.removeprefix("\ufeff")
    if text.startswith(DELIMITER + "\r\n"):  # saved with Windows line endings
        text = text.replace("\r\n", "\n")
    if not text.startswith(DELIMITER + "\n"):
        raise FrontMatterError("no front matter: the file must start with a line '---'")
    end = text.find(f"\n{DELIMITER}\n", len(DELIMITER))
    if end == -1:
        if text.endswith(f"\n{DELIMITER}"):
            end = len(text) - len(DELIMITER) - 1
        else:
            raise FrontMatterError("the front matter has no closing line '---'")
    header, body = text[len(DELIMITER) + 1 : end + 1], text[end + len(DELIMITER) + 2 :]
    meta = _load_yaml(header)
    if not isinstance(meta, dict) or not all(isinstance(key, str) for key in meta):
        raise FrontMatterError("the front matter is not a mapping of names to values")
    return meta, body


def _load_yaml(header: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover (PyYAML ships with the development tools)
        raise FrontMatterError("reading front matter needs PyYAML: pip install pyyaml") from None
    try:
        return yaml.safe_load(header) if header.strip() else {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (front matter line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise FrontMatterError(f"the front matter is not valid YAML{where}: {problem}") from None
