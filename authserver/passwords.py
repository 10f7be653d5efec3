"""Password hashing with argon2id at OWASP parameters, and the rules for new passwords.

Hashing is slow on purpose (about 20 ms and 19 MiB each), so from the event loop it runs in
threads of its own under a small concurrency cap (:func:`hashing_slots`): a burst of logins
queues instead of exhausting memory. Those threads run at a lower CPU priority (nice
+10 on Linux), so a flood of sign-ins cannot starve token requests or an MCP server on the same
machine: hashing gets the CPU they leave. Unknown accounts are verified against a dummy
hash so timing does not reveal which emails exist.

Rules for new passwords (NIST SP 800-63B, OWASP ASVS V6): at least 8 characters, never
truncated (argon2 hashes every byte), not common or easily guessed (zxcvbn's frequency lists
and score), and no composition rules.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

MIN_LENGTH = 8
MAX_LENGTH = 4096  # refused, never truncated: only a guard against absurd inputs
# zxcvbn scores 0 to 4; below 2 means fewer than 10^6 guesses (a common password, a keyboard
# walk, a name plus a year). zxcvbn reads at most 72 characters: longer passwords are judged
# by their start, which is what a guesser would try first anyway.
MIN_STRENGTH = 2
STRENGTH_CHECKED_CHARS = 72

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (the minimum we accept).
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
_DUMMY_HASH = HASHER.hash("dummy password for unknown accounts")


T = TypeVar("T")


class PasswordRejected(ValueError):
    """A new password does not meet the rules; the message says why (for the person choosing it)."""


def check_new_password(password: str, personal: Iterable[str] = ()) -> None:
    """Raise :class:`PasswordRejected` unless ``password`` may be set.

    ``personal``: the account's email and name, which make a password easier to guess.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_LENGTH} characters")
    hints = []
    for value in (v.strip().lower() for v in personal if v.strip()):
        hints += [value, value.split("@")[0], *value.replace("@", " ").replace(".", " ").split()]
    result = zxcvbn(password[:STRENGTH_CHECKED_CHARS], user_inputs=hints, max_length=STRENGTH_CHECKED_CHARS)
    if result["score"] < MIN_STRENGTH:
        raise PasswordRejected(
            "the password is too common or too easy to guess: a few unrelated words make a strong one"
        )


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; ``stored_hash=None`` (no such account) costs the same and fails."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (upgrade it at login)."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def verify_password_async(stored_hash: str | None, password: str, slots: anyio.CapacityLimiter) -> bool:
    """:func:`verify_password` in a hashing thread; ``slots`` caps how many hashes run at once."""
    return await in_hashing_thread(slots, verify_password, stored_hash, password)


async def hash_password_async(password: str, slots: anyio.CapacityLimiter) -> str:
    """:func:`hash_password` in a hashing thread, under the same cap as verification."""
    return await in_hashing_thread(slots, hash_password, password)


HASHING_NICENESS = 10
"""How much lower than the server's own threads hashing threads run (Linux nice increment)."""
_HASHING_THREADS = 16
"""Enough threads for any cap: ``slots`` decides how many hash at once."""
_pool: ThreadPoolExecutor | None = None


def hashing_slots(configured: int | None) -> anyio.CapacityLimiter:
    """The cap on hashes at once: ``settings.password_hash_concurrency``, by default one per CPU
    this process may run on.

    More than that only makes hashes share a CPU, and then a hashing thread that has finished
    waits for its turn on the CPU holding, or about to take, the interpreter lock that the event
    loop waits for: under a login flood on one CPU a cap of 4 left the loop stalled behind them
    (logins 0.77x the raw verify rate and RSS 230 MB, against 0.82x and 150 MB with 1; p99 of MCP
    calls on the same CPU 1.61x against 1.27x; bench/README.md).
    """
    if configured is None:
        configured = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return anyio.CapacityLimiter(configured)


async def in_hashing_thread(slots: anyio.CapacityLimiter, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in one of the low-priority hashing threads, at most ``slots`` at a time.

    A pool of its own because a thread's priority can be lowered but, without privileges,
    never raised again: the shared worker threads must keep theirs.
    """
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(_HASHING_THREADS, thread_name_prefix="password-hashing", initializer=_lower_priority)
    async with slots:
        # Shielded: a cancelled request still holds its slot until its hash ends, so the cap
        # bounds the hashes actually running (and their memory), as anyio's threads did.
        with anyio.CancelScope(shield=True):
            result = await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)
        return result


def _lower_priority() -> None:
    if sys.platform != "linux":  # elsewhere PRIO_PROCESS names the whole process, not this thread
        return
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS)
    except OSError:
        logging.getLogger(__name__).warning("password hashing threads run at normal priority: nice refused")
