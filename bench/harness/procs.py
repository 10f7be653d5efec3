"""Server processes: start on a free port (optionally pinned to CPUs), wait until healthy, stop,
and what they cost: CPU seconds and resident memory read from ``/proc``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    """A ``preexec_fn`` that pins the child (and every thread it starts) to ``cpus``."""
    if not cpus:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, cpus)

    return pin


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def postgres_pids() -> list[int]:
    """Every process of the local Postgres server (postmaster, backends, background workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() in ("postgres", "postmaster"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


@dataclass
class Usage:
    """What one process spent during a measured stretch."""

    cpu_s: float
    peak_rss_mb: float


class UsageSampler:
    """Samples resident memory of some processes every ``interval`` seconds while load runs,
    and their CPU time (plus all of Postgres's) at the start and the end."""

    def __init__(self, pids: dict[str, int], interval: float = 0.1) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._cpu0: dict[str, float] = {}
        self._pg0: dict[int, float] = {}

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):
                    self.peak[name] = max(self.peak[name], rss_bytes(pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> UsageSampler:
        self._cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._pg0 = _pg_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.usage = {
            name: Usage(cpu_seconds(pid) - self._cpu0[name], self.peak[name] / 2**20) for name, pid in self.pids.items()
        }
        after = _pg_cpu()
        self.postgres_cpu_s = sum(cpu - self._pg0.get(pid, 0.0) for pid, cpu in after.items())


def _pg_cpu() -> dict[int, float]:
    out = {}
    for pid in postgres_pids():
        try:
            out[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return out


@dataclass
class Server:
    """One server process of the benchmark; ``argv[0]`` is run as given."""

    name: str
    argv: Sequence[str]
    health_url: str  # empty: wait for the port of ``url`` instead
    log: Path
    url: str = ""  # what the load generator targets
    env: dict[str, str] = field(default_factory=dict)
    cpus: set[int] | None = None
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(  # noqa: S603 - our own commands
                list(self.argv),
                env={**os.environ, **self.env},
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                preexec_fn=pinned(self.cpus),
            )
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.proc.returncode}; its log ({self.log}) ends:\n"
                    + tail(self.log)
                )
            if self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy at {self.health_url} after {timeout} s; log:\n{tail(self.log)}")

    def _healthy(self) -> bool:
        """A 2xx-4xx answer from the health URL, or (for the baselines) an open port of ``url``."""
        try:
            if self.health_url:
                return httpx.get(self.health_url, timeout=1).status_code < 500
            parts = urlsplit(self.url)
            with socket.create_connection((parts.hostname, parts.port), timeout=1):
                return True
        except (httpx.HTTPError, OSError):
            return False

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
