"""Password hashing with argon2id at OWASP parameters, and the rules for new passwords.

Verification is slow on purpose (about 20 ms and 19 MiB each), so it runs in worker threads
under a small concurrency cap: a burst of logins queues instead of exhausting memory.
Unknown accounts are verified against a dummy hash so timing does not reveal which emails exist.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 4096  # refused, never truncated: only a guard against absurd inputs

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
_DUMMY_HASH = _hasher.hash("dummy password for unknown accounts")
VERIFY_CONCURRENCY = 4


class PasswordRejected(ValueError):
    """A new password does not meet the rules; the message says why."""


def check_new_password(password: str) -> None:
    """Raise :class:`PasswordRejected` unless ``password`` may be set."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; ``stored_hash=None`` (no such account) costs the same and fails."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's (upgrade it at login)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def verify_password_async(stored_hash: str | None, password: str, slots: anyio.CapacityLimiter) -> bool:
    """:func:`verify_password` in a worker thread; ``slots`` caps how many run at once."""
    return await anyio.to_thread.run_sync(verify_password, stored_hash, password, limiter=slots)
