"""Real server processes for tests: free loopback ports, start, wait until healthy, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(args: Sequence[str], env: dict[str, str], *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of our console entry points (``authserver``, ``mcpserver``, ``shared-skills``)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / args[0]), *args[1:]],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


@contextmanager
def server_process(
    args: Sequence[str], env: dict[str, str], health_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server through its console entry point and stop it with SIGTERM afterwards."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / args[0]), *args[1:]],
            env={**os.environ, **env},
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            wait_healthy(health_url, proc, log)
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy after {timeout} s:\n{log.read_text(errors='replace')}")
