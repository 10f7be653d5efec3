"""Opaque secrets and the hashes stored in their place.

Codes, refresh tokens, session cookies, client secrets and pending-request ids are random
strings handed out once; the database keeps only their SHA-256, so a dump reveals none of
them. They carry 256 bits of entropy, so a plain (unsalted, fast) hash is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """A fresh URL-safe secret with 256 bits of entropy."""
    return secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    """The hex SHA-256 stored instead of ``value``."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def matches_hash(value: str, stored_hash: str | None) -> bool:
    """Constant-time check of ``value`` against a stored hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(secret_hash(value), stored_hash)
