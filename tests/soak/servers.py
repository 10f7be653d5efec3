"""Server processes the soak test starts, kills and stops one by one (``tests.processes`` starts
them as context managers, which cannot be killed halfway)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from authserver.users import create_user
from shared.db import make_engine, session_factory, transaction
from tests.conftest import Database
from tests.processes import ROOT, free_port, run_cli, wait_healthy
from tests.stack import Stack


class Server:
    """One ``authserver serve`` or ``mcpserver serve`` on its own port; its log survives restarts."""

    def __init__(self, name: str, command: str, env: dict[str, str], port: int, log: Path) -> None:
        self.name = name
        self.command = command
        port_setting = "SKILLS_AUTH_PORT" if command == "authserver" else "SKILLS_MCP_PORT"
        self.env = {**os.environ, **env, port_setting: str(port)}
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._sink: IO[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawn()
        self.wait_healthy()

    def spawn(self) -> None:
        self._sink = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / self.command), "serve"],
            env=self.env,
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )

    def wait_healthy(self) -> None:
        assert self.proc is not None
        wait_healthy(f"{self.base}/healthz", self.proc, self.log, timeout=180)

    def kill(self) -> None:
        """SIGKILL: no goodbye, in-flight requests are cut off."""
        self._signal(signal.SIGKILL, timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM: uvicorn stops accepting and lets in-flight requests finish. The exit status."""
        return self._signal(signal.SIGTERM, timeout=timeout)

    def _signal(self, signum: int, timeout: float) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            raise AssertionError(f"{self.name} did not exit within {timeout} s of signal {signum}") from None
        finally:
            if self._sink is not None:
                self._sink.close()
        return code

    def stop_if_running(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()


@contextmanager
def running(servers: Iterable[Server]) -> Iterator[list[Server]]:
    """Start ``servers`` side by side (each takes seconds to import on a busy machine), stop them after."""
    started = list(servers)
    try:
        for server in started:
            server.spawn()
        for server in started:
            server.wait_healthy()
        yield started
    finally:
        for server in started:
            server.stop_if_running()


def add_users(admin_url: str, accounts: Iterable[tuple[str, str, str]]) -> None:
    """Accounts (email, password, name) made in this process: the CLI would cost a process start each."""
    engine = make_engine(admin_url)
    with transaction(session_factory(engine)) as db:
        for email, password, name in accounts:
            create_user(db, email, password, name)
    engine.dispose()


@contextmanager
def two_server_stack(database: Database, extra_env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    """``tests.stack.running_stack`` with the soak's patience for slow starts."""
    auth_port, mcp_port = free_port(), free_port()
    env = {
        **database.env,
        "SKILLS_ISSUER_URL": f"http://127.0.0.1:{auth_port}",
        "SKILLS_RESOURCE_URL": f"http://127.0.0.1:{mcp_port}/mcp",
        **extra_env,
    }
    migrated = run_cli(["authserver", "db", "upgrade"], env)
    assert migrated.returncode == 0, migrated.stderr
    stack = Stack(env["SKILLS_ISSUER_URL"], env["SKILLS_RESOURCE_URL"], env, "ada@example.com", "correct horse battery")
    add_users(database.settings().admin_database_url, [(stack.email, stack.password, "Ada")])
    servers = [
        Server("auth", "authserver", env, auth_port, log_dir / "authserver.log"),
        Server("mcp", "mcpserver", env, mcp_port, log_dir / "mcpserver.log"),
    ]
    with running(servers):
        yield stack
