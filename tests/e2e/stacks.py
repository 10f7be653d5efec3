"""Stacks with settings of their own, and what the end-to-end tests do to them from outside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import Database
from tests.processes import run_cli
from tests.stack import Stack

T = TypeVar("T")


def sqlite_database(tmp_path_factory: pytest.TempPathFactory, name: str, **settings: str) -> Database:
    """A SQLite database whose stack runs with ``settings`` (``access_token_ttl="60"`` → SKILLS_ACCESS_TOKEN_TTL)."""
    data_dir: Path = tmp_path_factory.mktemp(name)
    env = {"SKILLS_DATA_DIR": str(data_dir), **{f"SKILLS_{key.upper()}": value for key, value in settings.items()}}
    return Database("sqlite", env, data_dir)


def add_user(stack: Stack, email: str, password: str, name: str = "Bob") -> None:
    added = run_cli(
        ["authserver", "users", "add", email, "--name", name, "--password-stdin"], stack.env, stdin=password + "\n"
    )
    assert added.returncode == 0, added.stderr


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 10, every: float = 0.25) -> T:
    """The first non-None answer of ``probe``, polled for at most ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer within {within} s")
        await asyncio.sleep(every)
