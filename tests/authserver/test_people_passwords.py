"""Password rules and hashing: length, common passwords, no composition rules, argon2id parameters."""

from __future__ import annotations

import os
import sys
import threading
import time

import anyio
import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

from authserver import passwords
from authserver.passwords import (
    PasswordRejected,
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
    verify_password_async,
)


def test_hashes_are_argon2id_at_owasp_parameters_or_stronger() -> None:
    parameters = extract_parameters(hash_password("correct horse battery staple"))
    assert parameters.type is Type.ID
    assert parameters.memory_cost >= 19456 and parameters.time_cost >= 2 and parameters.parallelism >= 1
    assert not needs_rehash(hash_password("correct horse battery staple"))


@pytest.mark.parametrize("password", ["short", "1234567", ""])
def test_fewer_than_8_characters_are_refused(password: str) -> None:
    with pytest.raises(PasswordRejected, match="at least 8"):
        check_new_password(password)


@pytest.mark.parametrize("password", ["password", "password1", "12345678", "iloveyou", "qwertyuiop", "aaaaaaaaaa"])
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(PasswordRejected, match="too common"):
        check_new_password(password)


def test_the_account_s_own_email_is_refused_as_password() -> None:
    check_new_password("patricia.smith")  # unrelated to the account: acceptable
    with pytest.raises(PasswordRejected):
        check_new_password("patricia.smith", ("patricia.smith@example.com", "Patricia Smith"))


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "lowercase words only here", "ünïcödé pässwörd wörks", "x7#kQ9!z"],
)
def test_no_composition_rules(password: str) -> None:
    check_new_password(password)  # no error: no required digits, capitals or symbols


def test_long_passwords_are_hashed_whole() -> None:
    long_password = "correct horse battery staple " * 7  # 203 characters
    stored = hash_password(long_password)
    assert verify_password(stored, long_password)
    assert not verify_password(stored, long_password[:-1] + "X")
    check_new_password(long_password)  # accepted; only absurd lengths are refused
    with pytest.raises(PasswordRejected, match="at most"):
        check_new_password("x" * 5000)


def test_unknown_accounts_cost_a_verification_and_fail() -> None:
    assert verify_password(None, "dummy password for unknown accounts") is False


def test_verification_runs_off_the_event_loop_under_the_concurrency_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    hashing = SlowVerify(0.05)
    monkeypatch.setattr(passwords, "verify_password", hashing)

    async def main() -> None:
        slots = anyio.CapacityLimiter(2)
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(verify_password_async, "h", "p", slots)

    anyio.run(main)
    assert hashing.peak == 2
    assert threading.get_ident() not in hashing.threads  # never on the event loop's thread


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are a Linux feature")
def test_hashing_threads_run_at_a_lower_priority_than_the_server() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def main() -> tuple[int, bool]:
        slots = anyio.CapacityLimiter(1)
        in_thread = await passwords.in_hashing_thread(slots, niceness)
        verified = await verify_password_async(
            hash_password("correct horse battery staple"), "correct horse battery staple", slots
        )
        return in_thread, verified

    hashing, verified = anyio.run(main)
    assert hashing == min(niceness() + passwords.HASHING_NICENESS, 19)
    assert verified
    assert niceness() == os.getpriority(os.PRIO_PROCESS, 0)  # the caller's own priority is untouched


def test_a_cancelled_verification_keeps_its_slot_until_the_hash_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    hashing = SlowVerify(0.2)
    monkeypatch.setattr(passwords, "verify_password", hashing)

    async def main() -> None:
        slots = anyio.CapacityLimiter(1)
        async with anyio.create_task_group() as group:
            with anyio.move_on_after(0.05):  # the first request goes away while its hash runs
                await verify_password_async("h", "p", slots)
            group.start_soon(verify_password_async, "h", "p", slots)

    anyio.run(main)
    assert hashing.peak == 1


class SlowVerify:
    """A stand-in for ``verify_password`` that takes ``seconds`` and records how many ran at once
    (``peak``) and on which threads."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.running, self.peak = seconds, 0, 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, stored: str | None, password: str) -> bool:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return True


def test_hashes_at_once_default_to_one_per_usable_cpu() -> None:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert passwords.hashing_slots(None).total_tokens == usable
    assert passwords.hashing_slots(3).total_tokens == 3
