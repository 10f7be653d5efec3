"""Opaque pagination cursors: where the next page starts, for which query.

A cursor holds the keyset position of the last item served (never an offset, so
inserts made while a client pages through a list neither repeat nor skip items) and a
fingerprint of the filters it was made for, so that it cannot be replayed against a
different query. Clients must treat it as opaque; a tampered one can only move the
start of a page, never widen what the caller may see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any


class InvalidCursor(ValueError):
    """Not a cursor of this server for this query."""


def fingerprint(query: Any) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode(kind: str, position: list[Any], query: Any = None) -> str:
    document = {"v": 1, "k": kind, "p": position, "q": fingerprint(query)}
    raw = json.dumps(document, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str, kinds: tuple[str, ...], query: Any = None) -> tuple[str, list[Any]]:
    """The kind and position of a cursor made by :func:`encode` for the same query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: JSON nested too deep
        raise InvalidCursor("not a cursor from this server") from None
    if not isinstance(document, dict) or document.get("v") != 1 or document.get("k") not in kinds:
        raise InvalidCursor("not a cursor from this server")
    if document.get("q") != fingerprint(query):
        raise InvalidCursor("the cursor belongs to a different query: repeat the same filters, or start over")
    position = document.get("p")
    if not isinstance(position, list):
        raise InvalidCursor("not a cursor from this server")
    return str(document["k"]), position
