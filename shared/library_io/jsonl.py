"""JSON Lines: one snippet per line, with its whole version history.

Lines are compact JSON with keys in a fixed order and non-ASCII characters kept as they are,
so exporting the same workspace twice gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from shared.library_io.records import InvalidRecord, SnippetRecord, from_json, to_json


def dump_line(record: SnippetRecord) -> str:
    return json.dumps(to_json(record), ensure_ascii=False, separators=(",", ":")) + "\n"


def read_lines(lines: Iterable[str]) -> Iterator[tuple[str, SnippetRecord | InvalidRecord]]:
    """Each non-blank line's place (``line 3``) and its record, or what is wrong with it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            yield where, InvalidRecord([f"not JSON: {error.msg} at column {error.colno}"])
            continue
        try:
            yield where, from_json(data)
        except InvalidRecord as invalid:
            yield where, invalid
