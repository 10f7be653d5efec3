"""Benchmark of shared-skills against baselines, in one run (issue #7).

Seeds a throwaway Postgres database with a realistic library, mints tokens through the real
authorization server, starts our two servers the way production does and four baselines
beside them, and drives every scenario with wrk at a concurrency sweep. Writes
``bench/results/latest.json``, ``latest.md`` and ``latest.png`` (every ratio against the
baselines of the same run). From the repository root::

    uv run --with matplotlib python bench/run.py [--snippets 100000] [--quick]

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import traceback
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from harness.argon2_rate import verify_rate
from harness.loadgen import Measurement, run_wrk, wrk_binary
from harness.procs import Server
from harness.report import write_reports
from harness.scenarios import SCENARIOS, Context, Request, Scenario, Skip
from harness.seed import (
    BENCH_PASSWORD,
    SEARCH_QUERIES,
    BenchDatabase,
    create_database,
    search_matches,
    seed_library,
)
from harness.servers import baseline_servers, ensure_node_modules, our_servers
from harness.signin import Browser, SignIns, register_client, write_codes

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--postgres-url", default=os.environ.get("SKILLS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                   help="superuser URL of any database on the server (a throwaway database is created)")  # fmt: skip
    p.add_argument("--snippets", type=int, default=100_000)
    p.add_argument("--users", type=int, default=1_000)
    p.add_argument("--workspaces", type=int, default=200)
    p.add_argument("--seconds", type=float, default=10, help="measured seconds per scenario and concurrency")
    p.add_argument("--warmup", type=float, default=2, help="unmeasured seconds before each measurement")
    p.add_argument("--connections", type=int, default=16, help="the concurrency of the goals table")
    p.add_argument("--sweep", default="1,4,16,64", help="concurrency levels (comma-separated)")
    p.add_argument("--readers", type=int, default=100, help="users signed in for read calls")
    p.add_argument("--writers", type=int, default=20, help="other users signed in for write calls")
    p.add_argument("--only", default="", help="comma-separated scenario keys (default: all)")
    p.add_argument("--server-cpus", default="0", help="CPUs the servers are pinned to ('' = no pinning)")
    p.add_argument("--loadgen-cpus", default="1", help="CPUs wrk is pinned to ('' = no pinning)")
    p.add_argument(
        "--ratio-rounds",
        type=int,
        default=3,
        help="extra rounds at --connections in which (b), (d) and the ratio goals' tools take turns; 0 = none",
    )
    p.add_argument("--quick", action="store_true", help="a ~2-minute check of the harness: 10,000 snippets, short runs")
    p.add_argument("--out", type=Path, default=RESULTS / "latest", help="results path without extension")
    p.add_argument("--code-label", default="", help="what code was measured, for the report (e.g. a commit)")
    p.add_argument("--keep", action="store_true", help="keep the database and logs (printed at the end)")
    p.add_argument("--scale", default="", help="library sizes to compare (e.g. 10000,1000000): only the scale goal")
    p.add_argument("--rounds", type=int, default=3, help="with --scale: rounds, each measuring every size in turn")
    args = p.parse_args(argv)
    if args.quick:
        args.snippets = min(args.snippets, 10_000)
        args.seconds, args.warmup, args.sweep = 3, 0.5, "1,16,64"
        args.readers, args.writers = 30, 10
    args.levels = sorted({int(x) for x in args.sweep.split(",") if x} | {args.connections})
    args.server_cpu_set = {int(x) for x in args.server_cpus.split(",") if x} or None
    args.loadgen_cpu_set = {int(x) for x in args.loadgen_cpus.split(",") if x} or None
    return args


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    for tool, argv in (("wrk", ["wrk", "-v"]), ("node", ["node", "--version"]), ("nginx", ["nginx", "-v"])):
        if shutil.which(argv[0]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
            versions[tool] = (done.stdout + done.stderr).strip().splitlines()[0][:80]
    import importlib.metadata as md

    for package in ("mcp", "uvicorn", "starlette", "sqlalchemy", "asyncpg", "authlib", "argon2-cffi", "uvloop"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions[package] = md.version(package)
    ts_sdk = BENCH / "node" / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
    if ts_sdk.exists():
        versions["@modelcontextprotocol/sdk"] = json.loads(ts_sdk.read_text())["version"]
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }


def code_measured(label: str) -> dict[str, str]:
    """Which tree the servers ran from: the package directory (a PYTHONPATH snapshot wins) and its commit."""
    import shared

    source = Path(shared.__file__).resolve().parent.parent
    out = {"source": str(source), "label": label}
    if shutil.which("git") and (source / ".git").exists():
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "--short", "HEAD"],  # noqa: S603, S607
                              capture_output=True, text=True, check=False)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],  # noqa: S603, S607
                               capture_output=True, text=True, check=False)  # fmt: skip
        out["commit"] = head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    return out


class Runner:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.servers: dict[str, Server] = {}
        self.results: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.refresh_tokens: list[str] = []
        self.database: BenchDatabase | None = None
        self.search_matches: dict[str, int] = {}
        self.signins: SignIns | None = None
        self.ctx: Context | None = None

    # Setup ----------------------------------------------------------------------------

    def setup(self, *, baselines: bool = True) -> None:
        args = self.args
        wrk_binary()
        ensure_node_modules()
        log(f"creating and migrating a throwaway database on {args.postgres_url}")
        self.database = create_database(args.postgres_url, self.work / "data")
        log(f"seeding {args.users:,} users, {args.workspaces:,} workspaces, {args.snippets:,} snippets")
        library = seed_library(self.database, users=args.users, workspaces=args.workspaces, snippets=args.snippets)
        log(f"seeded {library.snippets:,} snippets and {library.versions:,} versions in {library.seconds} s")
        self.library = library
        self.search_matches = search_matches(self.database.admin_url, SEARCH_QUERIES)
        log(f"search queries match {sorted(self.search_matches.values())} snippets")
        self.servers = {
            **(baseline_servers(self.work, args.server_cpu_set) if baselines else {}),
            **our_servers(self.work, self.database.env, args.server_cpu_set),
        }
        for name in ("nginx", "bare", "sdk", "node", "auth", "mcp"):
            if name in self.servers:
                log(f"starting {self.servers[name].name}")
                self.servers[name].start()
        auth, mcp = self.servers["auth"], self.servers["mcp"]
        client_id = register_client(auth.url)
        self.signins = SignIns(auth.url, mcp.url, client_id)
        rng = random.Random(7)
        candidates = [u for u in library.users if any(library.readable.get(w) for w in library.memberships.get(u, []))]
        rng.shuffle(candidates)
        chosen = candidates[: args.readers + args.writers]
        email = dict(zip(library.users, library.emails, strict=True))
        log(f"signing in {len(chosen)} users through the authorization server (login, consent, code, /token)")
        tokens = {u: self.signins.grant(u, email[u], BENCH_PASSWORD) for u in chosen}
        self.refresh_tokens = [t.refresh_token for t in tokens.values()]
        readers = {u: tokens[u].access_token for u in chosen[: args.readers]}
        writers = {u: tokens[u].access_token for u in chosen[args.readers :]}
        self.email = email
        self.ctx = Context(
            library=library,
            readers=readers,
            writers=writers,
            urls={name: server.url for name, server in self.servers.items()},
            resource=mcp.url,
            client_id=client_id,
            admin_url=self.database.admin_url,
            work_dir=self.work,
            pending_login=lambda: Browser(auth.url).pending_login(client_id, mcp.url),
            write_codes=lambda n: write_codes(self.database.admin_url, client_id, mcp.url, list(readers), n),  # type: ignore[union-attr]
        )
        first = next(iter(readers.values()))
        listed = self.ctx.mcp_call(first, "tools/list", {})
        self.ctx.mcp_tools = {t["name"] for t in listed.get("tools", [])}
        log(f"our MCP server lists {len(self.ctx.mcp_tools)} tools: {', '.join(sorted(self.ctx.mcp_tools))}")

    def refresh_pool(self, needed: int) -> list[str]:
        """``needed`` live refresh tokens: left over from earlier runs, topped up by new grants."""
        assert self.signins is not None and self.ctx is not None
        users = list(self.ctx.readers)
        while len(self.refresh_tokens) < needed:
            user = users[len(self.refresh_tokens) % len(users)]
            self.refresh_tokens.append(self.signins.grant(user, self.email[user], BENCH_PASSWORD).refresh_token)
        taken, self.refresh_tokens = self.refresh_tokens[:needed], self.refresh_tokens[needed:]
        return taken

    # Measuring ------------------------------------------------------------------------

    def watch(self, scenario: Scenario) -> dict[str, int]:
        server = self.servers[scenario.target]
        return {server.name: server.pid}

    def precheck(self, scenario: Scenario, request: Request) -> None:
        """Send one request with httpx and refuse to measure a scenario whose answer is wrong."""
        url = self.servers[scenario.target].url
        base = url if scenario.target == "auth" else url.rsplit("/", 1)[0]
        response = httpx.request(
            request.method, base + request.path, content=request.body, headers=request.headers, timeout=60
        )
        bad = response.status_code != scenario.expect or any(m in response.text for m in scenario.reject)
        if bad:
            raise RuntimeError(f"precheck failed: {response.status_code} {response.text[:400]}")

    def measure(self, scenario: Scenario, connections: int, seconds: float) -> Measurement:
        assert self.ctx is not None
        ctx, args = self.ctx, self.args
        ctx.seconds = seconds
        server = self.servers[scenario.target]
        lines_file = self.work / "requests" / f"{scenario.key}-{connections}.tsv"
        lines_file.parent.mkdir(parents=True, exist_ok=True)
        if scenario.kind == "refresh":
            tokens = self.refresh_pool(2 * connections + 16)
            lines_file.write_text("\n".join(tokens) + "\n")
            leftover = lines_file.with_suffix(".left")
            result = run_wrk(
                server.url + "/token", "refresh.lua", [str(lines_file), ctx.client_id, ctx.resource, "1"],
                connections=connections, seconds=seconds, watch=self.watch(scenario), cpus=args.loadgen_cpu_set,
                env={"WRK_LEFTOVER": str(leftover)},
            )  # fmt: skip
            self.refresh_tokens += [t for t in leftover.read_text().split() if t]
            return result
        assert scenario.build is not None
        requests = scenario.build(ctx, connections, random.Random(hash((scenario.key, connections)) & 0xFFFF))
        if scenario.key != "code_grant":
            self.precheck(scenario, requests[0])
        lines_file.write_text("\n".join(r.line() for r in requests) + "\n")
        url = server.url if scenario.target != "auth" else server.url + "/"
        return run_wrk(
            url, "requests.lua", [str(lines_file), str(scenario.expect), ";;".join(scenario.reject)],
            connections=connections, seconds=seconds, watch=self.watch(scenario), cpus=args.loadgen_cpu_set,
        )  # fmt: skip

    def record(self, scenario: Scenario, connections: int, result: Measurement) -> None:
        row = {"key": scenario.key, "label": scenario.label, "group": scenario.group, "connections": connections}
        row.update(asdict(result))
        row["loadgen_cpu_share"] = round(result.loadgen_cpu_share, 3)
        row["failed"] = result.failed
        self.results.append(row)
        note = f", {result.failed} FAILED: {result.first_bad[:200]}" if result.failed else ""
        procs = ", ".join(f"{n} {u['cpu_s']:.1f} CPU s, {u['peak_rss_mb']:.0f} MB" for n, u in result.processes.items())
        log(
            f"{scenario.key} @ {connections}: {result.rps:,.0f}/s, p50 {result.p50_ms:.2f} ms, "
            f"p99 {result.p99_ms:.2f} ms ({procs}; wrk {result.loadgen_cpu_share:.0%} of a CPU){note}"
        )

    def run_scenarios(self) -> None:
        args = self.args
        only = {k for k in args.only.split(",") if k}
        chosen = [s for s in SCENARIOS if (not only or s.key in only) and s.target in self.servers]
        for s in SCENARIOS:
            if s.target not in self.servers:
                self.skipped[s.key] = f"server {s.target!r} is not available (install it to include this row)"
        for connections in args.levels:
            for scenario in chosen:
                if scenario.key in self.skipped:
                    continue
                if scenario.group == "ceiling" and connections < args.connections:
                    continue
                try:
                    if args.warmup > 0:
                        self.measure(scenario, connections, args.warmup)
                    self.record(scenario, connections, self.measure(scenario, connections, args.seconds))
                except Skip as why:
                    self.skipped[scenario.key] = str(why)
                    log(f"{scenario.key}: skipped: {why}")
                except Exception as error:  # a broken scenario must not lose the others
                    self.skipped[scenario.key] = f"failed: {error}"
                    log(f"{scenario.key} @ {connections}: FAILED: {error}")
                    traceback.print_exc()

    def run_ratio_rounds(self) -> list[dict[str, dict[str, float]]]:
        """The ratio goals measured again, ``--ratio-rounds`` times, their scenarios taking turns
        (the first one rotating), so that a machine whose speed drifts — a shared VM's does, by
        2x within minutes — hits the baselines and our calls alike. Each round's ratios come from
        its own measurements; the goals table reports their median."""
        args = self.args
        chosen = [
            s for s in SCENARIOS if s.key in RATIO_KEYS and s.target in self.servers and s.key not in self.skipped
        ]
        if not any(s.key == "b_sdk" for s in chosen) or args.ratio_rounds <= 0:
            return []
        rounds = []
        for i in range(args.ratio_rounds):
            order = chosen[i % len(chosen) :] + chosen[: i % len(chosen)]
            measured = {}
            for scenario in order:
                result = self.measure(scenario, args.connections, args.seconds)
                measured[scenario.key] = {
                    "rps": result.rps,
                    "p50_ms": result.p50_ms,
                    "p99_ms": result.p99_ms,
                    "failed": result.failed,
                }
            log(f"ratio round {i + 1}: " + ", ".join(f"{k} {v['rps']:,.0f}/s" for k, v in measured.items()))
            rounds.append(measured)
        return rounds

    def run_mixed(self) -> dict[str, Any] | None:
        """MCP calls while logins saturate the authorization server: both wrk runs at once."""
        args = self.args
        mcp_key = (
            "list_snippets"
            if "list_snippets" not in self.skipped and any(r["key"] == "list_snippets" for r in self.results)
            else "list_workspaces"
        )
        by_key = {s.key: s for s in SCENARIOS}
        if "login" in self.skipped or mcp_key in self.skipped or "auth" not in self.servers:
            return None
        outcome: dict[str, Measurement] = {}

        def go(key: str) -> None:
            outcome[key] = self.measure(by_key[key], args.connections, args.seconds)

        log(f"mixed: {mcp_key} and login at {args.connections} connections each, at the same time")
        workers = [threading.Thread(target=go, args=(k,)) for k in (mcp_key, "login")]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if len(outcome) != 2:
            return None
        alone = next(r for r in self.results if r["key"] == mcp_key and r["connections"] == args.connections)
        mixed = outcome[mcp_key]
        return {
            "mcp_scenario": mcp_key,
            "connections": args.connections,
            "mcp_alone": {"rps": alone["rps"], "p50_ms": alone["p50_ms"], "p99_ms": alone["p99_ms"]},
            "mcp_during_logins": {
                "rps": mixed.rps,
                "p50_ms": mixed.p50_ms,
                "p99_ms": mixed.p99_ms,
                "failed": mixed.failed,
            },
            "logins": {
                "rps": outcome["login"].rps,
                "p99_ms": outcome["login"].p99_ms,
                "failed": outcome["login"].failed,
            },
            "p99_ratio": mixed.p99_ms / alone["p99_ms"] if alone["p99_ms"] else None,
        }

    def teardown(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()
        if self.signins is not None:
            self.signins.close()
        if self.database is not None and not self.args.keep:
            self.database.drop()


RATIO_KEYS = ("b_sdk", "b_sdk_page", "d_node", "d_node_page", "list_snippets", "get_snippet", "save_snippet")
"""The scenarios of the goals stated as ratios to (b) and (d), measured again in interleaved rounds."""

SCALE_KEYS = ("list_snippets", "list_snippets_deep", "search_snippets")


def scale_main(args: argparse.Namespace, argv: list[str] | None) -> int:
    """The scale goal: the same calls on libraries of different sizes, one server each, measured in
    turn (round after round) so that drift of the machine hits every size alike."""
    sizes = [int(x) for x in args.scale.split(",") if x]
    started = datetime.now(UTC)
    work = RESULTS / "tmp" / f"scale-{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    info = machine()
    runners: list[Runner] = []
    rows: list[dict[str, Any]] = []
    by_key = {s.key: s for s in SCENARIOS}
    try:
        for size in sizes:
            sub = argparse.Namespace(**vars(args))
            sub.snippets = size
            runner = Runner(sub, work / str(size))
            runners.append(runner)
            runner.setup(baselines=False)
        for round_ in range(1, args.rounds + 1):
            for key in SCALE_KEYS:
                for size, runner in zip(sizes, runners, strict=True):
                    try:
                        if args.warmup > 0:
                            runner.measure(by_key[key], args.connections, args.warmup)
                        m = runner.measure(by_key[key], args.connections, args.seconds)
                    except Skip as why:
                        log(f"{key} at {size:,}: skipped: {why}")
                        continue
                    rows.append(
                        {
                            "key": key,
                            "snippets": size,
                            "round": round_,
                            "rps": m.rps,
                            "p50_ms": m.p50_ms,
                            "p99_ms": m.p99_ms,
                            "failed": m.failed,
                            "processes": m.processes,
                        }
                    )
                    log(
                        f"round {round_}: {key} at {size:,} snippets: {m.rps:,.0f}/s, p50 {m.p50_ms:.2f} ms, "
                        f"p99 {m.p99_ms:.2f} ms, {m.failed} failed"
                    )
    finally:
        for runner in runners:
            runner.teardown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = []
    for key in SCALE_KEYS:
        p50 = {size: sorted(r["p50_ms"] for r in rows if r["key"] == key and r["snippets"] == size) for size in sizes}
        medians = {size: v[len(v) // 2] for size, v in p50.items() if v}
        if len(medians) == len(sizes):
            ratio = medians[sizes[-1]] / medians[sizes[0]]
            summary.append({"key": key, "median_p50_ms": medians, "ratio": ratio, "met": ratio <= 1.5})
    libraries: list[dict[str, Any]] = [
        {
            "snippets": r.library.snippets,
            "versions": r.library.versions,
            "seed_seconds": r.library.seconds,
            "search_matches": r.search_matches,
        }
        for r in runners
        if hasattr(r, "library")
    ]
    report: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": info,
        "code": code_measured(args.code_label),
        "settings": {
            "sizes": sizes,
            "connections": args.connections,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "readers": args.readers,
        },
        "libraries": libraries,
        "results": rows,
        "summary": summary,
    }
    out = args.out if args.out != RESULTS / "latest" else RESULTS / "scale"
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    lines = [
        f"# Scale: p50 at {sizes[-1]:,} snippets against {sizes[0]:,}",
        "",
        f"Run of {report['started']} to {report['finished']}; {args.connections} connections, {args.rounds} rounds "
        f"of {args.seconds:g} s per size and call, sizes measured in turn; median p50 over the rounds. "
        f"Command: `{report['command']}`.",
        "",
        "| call | " + " | ".join(f"p50 ms at {s:,}" for s in sizes) + " | ratio | goal <= 1.5 x |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: | --- |",
    ]
    for item in summary:
        cells = " | ".join(f"{item['median_p50_ms'][s]:.2f}" for s in sizes)
        lines.append(f"| {item['key']} | {cells} | {item['ratio']:.2f} x | {'met' if item['met'] else 'missed'} |")
    lines += [
        "",
        "Libraries: "
        + "; ".join(
            f"{lib['snippets']:,} snippets ({lib['versions']:,} versions) seeded in {lib['seed_seconds']} s, "
            f"search queries match {sorted(lib['search_matches'].values())} snippets"
            for lib in libraries
        ),
        "",
        "| call | snippets | round | calls/s | p50 ms | p99 ms | failed |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['key']} | {r['snippets']:,} | {r['round']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['failed']} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    log(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scale:
        return scale_main(args, argv)
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    work = RESULTS / "tmp" / run_id
    work.mkdir(parents=True, exist_ok=True)
    info = machine()
    runner = Runner(args, work)
    argon2: list[dict[str, float]] = []
    mixed = None
    ratio_rounds: list[dict[str, dict[str, float]]] = []
    try:
        runner.setup()
        log("baseline (c): argon2id verify rate, 1 thread pinned to the servers' CPU, then 2 threads unpinned")
        argon2_seconds = 2.0 if args.quick else 5.0
        argon2 = [verify_rate(1, argon2_seconds, args.server_cpu_set), verify_rate(2, argon2_seconds, None)]
        for a in argon2:
            log(f"argon2id: {a['threads']} thread(s): {a['per_second']:.1f} verifies/s")
        runner.run_scenarios()
        ratio_rounds = runner.run_ratio_rounds()
        mixed = runner.run_mixed()
    finally:
        runner.teardown()
        if args.keep and runner.database is not None:
            log(f"kept database {runner.database.name} and {work}")
    finished = datetime.now(UTC)
    library = runner.library if hasattr(runner, "library") else None
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "command": "uv run --with matplotlib python bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": info,
        "code": code_measured(args.code_label),
        "settings": {
            "snippets": args.snippets,
            "users": args.users,
            "workspaces": args.workspaces,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connections": args.connections,
            "levels": args.levels,
            "readers": args.readers,
            "writers": args.writers,
            "server_cpus": sorted(args.server_cpu_set) if args.server_cpu_set else "any",
            "loadgen_cpus": sorted(args.loadgen_cpu_set) if args.loadgen_cpu_set else "any",
            "quick": args.quick,
            "wrk": "1 thread, keep-alive, closed loop; latency from wrk's histogram",
        },
        "library": {
            "snippets": library.snippets,
            "versions": library.versions,
            "users": len(library.users),
            "workspaces": len(library.workspaces),
            "memberships": sum(len(v) for v in library.members.values()),
            "seed_seconds": library.seconds,
            "search_matches": runner.search_matches,
        }
        if library
        else None,
        "mcp_tools": sorted(runner.ctx.mcp_tools) if runner.ctx else [],
        "argon2": argon2,
        "results": runner.results,
        "mixed": mixed,
        "ratio_rounds": ratio_rounds,
        "skipped": runner.skipped,
    }
    scale_file = RESULTS / "scale.json"
    if scale_file.exists():  # the scale goal's own run (--scale), judged in the goals table too
        report["scale"] = json.loads(scale_file.read_text())
    paths = write_reports(report, args.out)
    for path in paths:
        log(f"wrote {path}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
