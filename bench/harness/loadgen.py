"""The load generator: ``wrk`` (C, epoll, one thread) driven by the Lua scripts in ``bench/wrk``.

wrk keeps a fixed number of connections busy (closed loop, HTTP/1.1 keep-alive) and reports
latency percentiles through the scripts' ``done()``; the scripts also check every response.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.procs import UsageSampler, pinned

WRK_DIR = Path(__file__).resolve().parent.parent / "wrk"
INSTALL_HINT = "wrk is not installed: run `apt-get update && apt-get install -y wrk` (Debian package `wrk`)"


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(INSTALL_HINT)
    return found


@dataclass
class Measurement:
    """One wrk run against one server: throughput, latency, checks, and what the processes spent."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int]
    bad_status: int
    bad_body: int
    first_bad: str
    loadgen_cpu_s: float
    processes: dict[str, dict[str, float]] = field(default_factory=dict)
    postgres_cpu_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.bad_status + self.bad_body + sum(self.errors.values()) - self.errors.get("status", 0)

    @property
    def loadgen_cpu_share(self) -> float:
        """Share of one CPU the load generator used (1.0 = a whole core: it would be the bottleneck)."""
        return self.loadgen_cpu_s / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    script: str,
    script_args: list[str],
    *,
    connections: int,
    seconds: float,
    watch: dict[str, int],
    cpus: set[int] | None,
    env: dict[str, str] | None = None,
    timeout_s: int = 10,
) -> Measurement:
    """Run wrk with one thread and ``connections`` connections for ``seconds``, watching ``watch`` pids."""
    argv = [
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(WRK_DIR / script),
        url,
        "--",
        *script_args,
    ]
    with UsageSampler(watch) as sampler, tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(  # noqa: S603 - wrk with our own arguments
            argv,
            stdout=subprocess.PIPE,
            stderr=errors,
            env={**os.environ, **(env or {})},
            preexec_fn=pinned(cpus),
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        _, status, rusage = os.wait4(proc.pid, 0)  # wrk's own CPU time, from its rusage
        proc.returncode = os.waitstatus_to_exitcode(status)
        loadgen_cpu = rusage.ru_utime + rusage.ru_stime
        errors.seek(0)
        err = errors.read()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    summary = _last_json(out.decode(errors="replace"))
    lat = summary["latency_us"]
    seconds_run = summary["duration_us"] / 1e6
    return Measurement(
        requests=summary["requests"],
        seconds=round(seconds_run, 3),
        rps=summary["requests"] / seconds_run if seconds_run else 0.0,
        p50_ms=lat["p50"] / 1000,
        p95_ms=lat["p95"] / 1000,
        p99_ms=lat["p99"] / 1000,
        p999_ms=lat["p999"] / 1000,
        mean_ms=lat["mean"] / 1000,
        max_ms=lat["max"] / 1000,
        errors=summary["errors"],
        bad_status=summary["bad_status"],
        bad_body=summary["bad_body"],
        first_bad=summary["first_bad"],
        loadgen_cpu_s=loadgen_cpu,
        processes={
            name: {"cpu_s": round(u.cpu_s, 3), "peak_rss_mb": round(u.peak_rss_mb, 1)}
            for name, u in sampler.usage.items()
        },
        postgres_cpu_s=round(sampler.postgres_cpu_s, 3),
        extra={k: v for k, v in summary.items() if k not in _KNOWN},
    )


_KNOWN = {"requests", "duration_us", "bytes", "errors", "latency_us", "bad_status", "bad_body", "first_bad"}


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"wrk printed no summary:\n{text[-2000:]}")
