"""Baseline (c): raw argon2id verify rate at the server's parameters, in 1 and 2 threads.

Calls the server's own ``authserver.passwords.verify_password`` (argon2-cffi, which releases
the GIL) in a loop from N threads for a fixed time; the one-thread figure runs pinned to the
servers' CPU, so it is the ceiling of logins per second for a server pinned there.
"""

from __future__ import annotations

import os
import threading
import time


def verify_rate(threads: int, seconds: float, cpus: set[int] | None) -> dict[str, float]:
    from authserver import passwords
    from authserver.passwords import hash_password, verify_password

    hasher = passwords.HASHER

    stored = hash_password("argon2 baseline password")
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def loop(index: int) -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)  # this thread only
        while time.perf_counter() < deadline:
            if not verify_password(stored, "argon2 baseline password"):
                raise RuntimeError("argon2 verify failed")
            counts[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - started
    return {
        "threads": threads,
        "verifies": sum(counts),
        "seconds": round(wall, 3),
        "per_second": sum(counts) / wall,
        "ms_per_verify_per_thread": wall / max(1, sum(counts)) * threads * 1000,
        "parameters": f"t={hasher.time_cost}, m={hasher.memory_cost} KiB, p={hasher.parallelism}",
        "pinned_to": sorted(cpus) if cpus else "any",
    }
