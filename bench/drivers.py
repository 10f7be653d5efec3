"""Choose the MCP server's async Postgres driver (asyncpg or psycopg 3) by measurement.

Every transaction is what one MCP request does: through SQLAlchemy's async engine
(``shared.db.make_async_engine``) and ``shared.db.user_transaction()``::

    BEGIN; select set_config('app.user_id', :uid, true); <one indexed select>; COMMIT

for two selects: "get one snippet by id" and "list the 20 newest summaries of a
workspace (no body)". For each driver and each concurrency level (that many asyncio
tasks sharing one engine whose pool_size is the concurrency) the loop runs for a fixed
time (cut into rounds that take turns between the stacks, so that drift hits all alike),
after a warm-up that fills the pool and the statement caches. The same loop also
runs on each driver's own pool without SQLAlchemy (asyncpg's pool; psycopg_pool's
AsyncConnectionPool when that package is installed), which shows what SQLAlchemy costs.

It creates a throwaway database with a snippets-like table and drops it at the end, prints
a Markdown report on stdout (progress goes to stderr) and writes the figures to
``bench/results/drivers.json``. Run from the repository root::

    uv run python bench/drivers.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--seconds 10] [--concurrency 1,16] [--rounds 5] [--warmup 0.5] [--loop uvloop|asyncio]

(``uv run --with psycopg-pool python bench/drivers.py …`` adds the bare-psycopg row
without making psycopg-pool a project dependency.)

The URL is a superuser (or CREATEDB) URL of any existing database on the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import random
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import psycopg
from psycopg import sql
from sqlalchemy import Column, DateTime, MetaData, Table, Text, Uuid, bindparam, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import async_session_factory, make_async_engine, user_transaction

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "drivers.json"
ROWS = 20_000
WORKSPACES = 200  # 100 snippets each
LIST_LIMIT = 20
SEED = 20_240_601

# The table, as the MCP server's queries see it ------------------------------------------

_metadata = MetaData()
snippets = Table(
    "snippets",
    _metadata,
    Column("id", Uuid, primary_key=True),
    Column("workspace_id", Uuid, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
SA_GET = select(snippets.c.id, snippets.c.workspace_id, snippets.c.title, snippets.c.body, snippets.c.updated_at).where(
    snippets.c.id == bindparam("id")
)
SA_LIST = (
    select(snippets.c.id, snippets.c.title, snippets.c.updated_at)
    .where(snippets.c.workspace_id == bindparam("workspace_id"))
    .order_by(snippets.c.updated_at.desc())
    .limit(LIST_LIMIT)
)

_GET = "select id, workspace_id, title, body, updated_at from snippets where id = {}"
_LIST = "select id, title, updated_at from snippets where workspace_id = {} order by updated_at desc limit {}"
_SET_USER = "select set_config('app.user_id', {}, true)"
ASYNCPG_GET, ASYNCPG_LIST, ASYNCPG_SET_USER = _GET.format("$1"), _LIST.format("$1", "$2"), _SET_USER.format("$1")
PSYCOPG_GET, PSYCOPG_LIST, PSYCOPG_SET_USER = _GET.format("%s"), _LIST.format("%s", "%s"), _SET_USER.format("%s")

SCHEMA = """
create table snippets (
    id uuid primary key,
    workspace_id uuid not null,
    title text not null,
    body text not null,
    updated_at timestamptz not null
)
"""
# 1 KB bodies (32 md5 hex digests), stored inline (below the 2 KB TOAST threshold).
FILL = """
insert into snippets (id, workspace_id, title, body, updated_at)
select gen_random_uuid(),
       ws.ids[1 + g %% %(workspaces)s::int],
       'Snippet number ' || g,
       repeat(md5(random()::text), 32),
       now() - g * interval '37 seconds'
from (select array_agg(gen_random_uuid()) as ids from generate_series(1, %(workspaces)s::int)) as ws,
     generate_series(1, %(rows)s::int) as g
"""
INDEX = "create index ix_snippets_workspace_updated on snippets (workspace_id, updated_at desc)"


# The stacks under test --------------------------------------------------------------------


class Stack(Protocol):
    """One way of running the request transaction: a driver, with or without SQLAlchemy."""

    label: str

    async def open(self, url: str, size: int) -> None: ...
    async def close(self) -> None: ...
    async def get_one(self, user_id: str, snippet_id: uuid.UUID) -> None: ...
    async def list_recent(self, user_id: str, workspace_id: uuid.UUID) -> None: ...


def _check_one(found: int) -> None:
    if found != 1:
        raise RuntimeError(f"get by id returned {found} rows")


def _check_list(found: int) -> None:
    if found != LIST_LIMIT:
        raise RuntimeError(f"list returned {found} rows, expected {LIST_LIMIT}")


class SQLAlchemyStack:
    """The MCP server's way: make_async_engine + user_transaction, one AsyncSession per request."""

    def __init__(self, driver: str) -> None:
        self.driver = driver
        self.label = f"SQLAlchemy + {driver}"
        self.engine: AsyncEngine | None = None
        self.factory: async_sessionmaker[AsyncSession] | None = None

    async def open(self, url: str, size: int) -> None:
        self.engine = make_async_engine(url, postgres_driver=self.driver, pool_size=size)
        self.factory = async_session_factory(self.engine)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()

    async def get_one(self, user_id: str, snippet_id: uuid.UUID) -> None:
        assert self.factory is not None
        async with user_transaction(self.factory, user_id) as session:
            rows = (await session.execute(SA_GET, {"id": snippet_id})).all()
        _check_one(len(rows))

    async def list_recent(self, user_id: str, workspace_id: uuid.UUID) -> None:
        assert self.factory is not None
        async with user_transaction(self.factory, user_id) as session:
            rows = (await session.execute(SA_LIST, {"workspace_id": workspace_id})).all()
        _check_list(len(rows))


class SQLAlchemyNoPingStack(SQLAlchemyStack):
    """The same without ``pool_pre_ping`` (``--without-pre-ping``): what the check costs per transaction."""

    def __init__(self, driver: str) -> None:
        super().__init__(driver)
        self.label = f"SQLAlchemy + {driver}, no pre-ping"

    async def open(self, url: str, size: int) -> None:
        await super().open(url, size)
        assert self.engine is not None
        self.engine.sync_engine.pool._pre_ping = False  # the pool reads this flag at every checkout


class AsyncpgPoolStack:
    """asyncpg without SQLAlchemy: asyncpg.Pool with its defaults (it resets a connection on release)."""

    label = "asyncpg pool (no SQLAlchemy)"

    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None

    async def open(self, url: str, size: int) -> None:
        self.pool = await asyncpg.create_pool(url, min_size=size, max_size=size)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def get_one(self, user_id: str, snippet_id: uuid.UUID) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetchval(ASYNCPG_SET_USER, user_id)
            rows = await conn.fetch(ASYNCPG_GET, snippet_id)
        _check_one(len(rows))

    async def list_recent(self, user_id: str, workspace_id: uuid.UUID) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.fetchval(ASYNCPG_SET_USER, user_id)
            rows = await conn.fetch(ASYNCPG_LIST, workspace_id, LIST_LIMIT)
        _check_list(len(rows))


class PsycopgPoolStack:
    """psycopg without SQLAlchemy: psycopg_pool.AsyncConnectionPool with its defaults."""

    label = "psycopg AsyncConnectionPool (no SQLAlchemy)"

    def __init__(self) -> None:
        self.pool: Any = None

    async def open(self, url: str, size: int) -> None:
        from psycopg_pool import AsyncConnectionPool

        self.pool = AsyncConnectionPool(url, min_size=size, max_size=size, open=False)
        await self.pool.open(wait=True)

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def get_one(self, user_id: str, snippet_id: uuid.UUID) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await (await conn.execute(PSYCOPG_SET_USER, (user_id,))).fetchone()
            rows = await (await conn.execute(PSYCOPG_GET, (snippet_id,))).fetchall()
        _check_one(len(rows))

    async def list_recent(self, user_id: str, workspace_id: uuid.UUID) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await (await conn.execute(PSYCOPG_SET_USER, (user_id,))).fetchone()
            rows = await (await conn.execute(PSYCOPG_LIST, (workspace_id, LIST_LIMIT))).fetchall()
        _check_list(len(rows))


REFERENCE = "SQLAlchemy + asyncpg"  # the current default (settings.postgres_driver); every ratio is against it


def stacks(without_pre_ping: bool = False) -> tuple[list[Callable[[], Stack]], list[dict[str, str]]]:
    """The stacks to measure, in run order, and the ones skipped with the reason."""
    makers: list[Callable[[], Stack]] = [
        lambda: SQLAlchemyStack("asyncpg"),
        lambda: SQLAlchemyStack("psycopg"),
        AsyncpgPoolStack,
    ]
    if without_pre_ping:
        makers.insert(1, lambda: SQLAlchemyNoPingStack("asyncpg"))
    skipped: list[dict[str, str]] = []
    if importlib.util.find_spec("psycopg_pool") is not None:
        makers.append(PsycopgPoolStack)
    else:
        skipped.append(
            {
                "stack": PsycopgPoolStack.label,
                "reason": "psycopg_pool is not installed (run with `uv run --with psycopg-pool …` to include it)",
            }
        )
    return makers, skipped


# The load loop ----------------------------------------------------------------------------


@dataclass
class Data:
    snippet_ids: list[uuid.UUID]
    workspace_ids: list[uuid.UUID]


Operation = Callable[[Stack, str, random.Random], Awaitable[None]]


def _get_one(data: Data) -> Operation:
    def op(stack: Stack, user_id: str, rng: random.Random) -> Awaitable[None]:
        return stack.get_one(user_id, rng.choice(data.snippet_ids))

    return op


def _list_recent(data: Data) -> Operation:
    def op(stack: Stack, user_id: str, rng: random.Random) -> Awaitable[None]:
        return stack.list_recent(user_id, rng.choice(data.workspace_ids))

    return op


SCENARIOS: dict[str, Callable[[Data], Operation]] = {
    "get one snippet by id": _get_one,
    "list 20 newest summaries": _list_recent,
}


@dataclass
class Segment:
    """One timed stretch of the loop on one stack."""

    latencies: list[float]
    wall: float
    cpu: float


@dataclass
class Result:
    scenario: str
    concurrency: int
    stack: str
    transactions: int
    seconds: float
    tps: float
    p50_ms: float
    p99_ms: float
    cpu_s_per_1000: float
    round_tps: list[float] = field(default_factory=list)
    round_cpu_s_per_1000: list[float] = field(default_factory=list)
    ratios: dict[str, Any] = field(default_factory=dict)


async def drive(stack: Stack, op: Operation, concurrency: int, seconds: float, seed: int) -> Segment:
    """Run ``op`` in ``concurrency`` tasks, each starting transactions until ``seconds`` have passed."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    cpu_start = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds

    async def worker(index: int) -> None:
        rng = random.Random(seed * 1_000 + index)
        user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        mine = latencies[index]
        while (began := time.perf_counter()) < deadline:
            await op(stack, user_id, rng)
            mine.append(time.perf_counter() - began)

    async with asyncio.TaskGroup() as group:
        for index in range(concurrency):
            group.create_task(worker(index))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return Segment([x for mine in latencies for x in mine], wall, cpu)


def combine(scenario: str, concurrency: int, label: str, segments: list[Segment]) -> Result:
    every = [x for seg in segments for x in seg.latencies]
    wall = sum(seg.wall for seg in segments)
    cuts = statistics.quantiles(every, n=100, method="inclusive")
    return Result(
        scenario=scenario,
        concurrency=concurrency,
        stack=label,
        transactions=len(every),
        seconds=round(wall, 3),
        tps=len(every) / wall,
        p50_ms=cuts[49] * 1000,
        p99_ms=cuts[98] * 1000,
        cpu_s_per_1000=sum(seg.cpu for seg in segments) / len(every) * 1000,
        round_tps=[len(seg.latencies) / seg.wall for seg in segments],
        round_cpu_s_per_1000=[seg.cpu / len(seg.latencies) * 1000 for seg in segments],
    )


async def run_all(
    url: str,
    data: Data,
    levels: Sequence[int],
    seconds: float,
    warmup: float,
    rounds: int,
    without_pre_ping: bool = False,
) -> tuple[list[Result], list[dict[str, str]]]:
    """Measure every stack in every (concurrency, query) cell.

    All stacks of a concurrency level stay open side by side, and each cell's measured
    time is cut into ``rounds`` stretches that take turns (the starting stack rotating),
    so that drift of a shared 2-core machine hits every stack alike; the ratios of the
    report compare stacks inside one cell.
    """
    makers, skipped = stacks(without_pre_ping)
    results: list[Result] = []
    for concurrency in levels:
        opened: list[Stack] = []
        try:
            for make in makers:
                stack = make()
                await stack.open(url, concurrency)
                opened.append(stack)
            for scenario, make_op in SCENARIOS.items():
                op = make_op(data)
                for stack in opened:  # fills the pool and the statement caches
                    await drive(stack, op, concurrency, warmup, seed=rounds)
                segments: dict[str, list[Segment]] = {stack.label: [] for stack in opened}
                for turn in range(rounds):
                    shift = turn % len(opened)
                    for stack in opened[shift:] + opened[:shift]:
                        gc.collect()
                        segments[stack.label].append(await drive(stack, op, concurrency, seconds / rounds, turn))
                for stack in opened:
                    result = combine(scenario, concurrency, stack.label, segments[stack.label])
                    results.append(result)
                    print(
                        f"{scenario}, {concurrency} tasks, {stack.label}: "
                        f"{result.tps:,.0f} txn/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, "
                        f"{result.cpu_s_per_1000:.3f} CPU s/1k",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            for stack in opened:
                await stack.close()
    add_ratios(results)
    return results, skipped


def add_ratios(results: list[Result]) -> None:
    """Ratios of each row against the reference row of its cell, and SQLAlchemy against the bare driver.

    Besides the ratio of the totals, the ``*_rounds`` lists hold the ratio of each round
    (the two stretches of one round ran back to back), a measure of the noise.
    """
    for cell in _cells(results):
        ref = cell.get(REFERENCE)
        for r in cell.values():
            if ref is not None:
                r.ratios |= _ratios(r, ref, "reference")
        for bare, sa in (
            (AsyncpgPoolStack.label, "SQLAlchemy + asyncpg"),
            (PsycopgPoolStack.label, "SQLAlchemy + psycopg"),
        ):
            if bare in cell and sa in cell:
                cell[sa].ratios |= _ratios(cell[sa], cell[bare], "bare_driver")


def _ratios(r: Result, base: Result, name: str) -> dict[str, Any]:
    return {
        f"tps_vs_{name}": r.tps / base.tps,
        f"cpu_vs_{name}": r.cpu_s_per_1000 / base.cpu_s_per_1000,
        f"p50_vs_{name}": r.p50_ms / base.p50_ms,
        f"tps_vs_{name}_rounds": [a / b for a, b in zip(r.round_tps, base.round_tps, strict=True)],
        f"cpu_vs_{name}_rounds": [
            a / b for a, b in zip(r.round_cpu_s_per_1000, base.round_cpu_s_per_1000, strict=True)
        ],
    }


# Database setup ---------------------------------------------------------------------------


def plain_url(url: str, database: str | None = None) -> str:
    """A libpq URL (no SQLAlchemy driver suffix), optionally naming another database."""
    parsed: URL = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def server_info(admin_url: str) -> tuple[str, int]:
    """The server's version and max_connections."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        version = admin.execute("show server_version").fetchone()
        limit = admin.execute("show max_connections").fetchone()
    assert version is not None and limit is not None
    return str(version[0]), int(limit[0])


def create_database(admin_url: str, name: str) -> Data:
    """Create and fill the throwaway database; return its ids."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    with psycopg.connect(plain_url(admin_url, name), autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(FILL, {"rows": ROWS, "workspaces": WORKSPACES})
        conn.execute(INDEX)
        conn.execute("vacuum analyze snippets")
        snippet_ids = [row[0] for row in conn.execute("select id from snippets order by id")]
        workspace_ids = [row[0] for row in conn.execute("select distinct workspace_id from snippets order by 1")]
    return Data(snippet_ids, workspace_ids)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


# Report -----------------------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine(server_version: str, loop: str, load_average: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgres": server_version,
        "event_loop": loop,
        "packages": {p: _version(p) for p in ("sqlalchemy", "asyncpg", "psycopg", "psycopg-binary", "psycopg-pool")},
        "load_average_at_start": [round(x, 2) for x in load_average],
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _spread(values: list[float]) -> str:
    return f"[{min(values):.2f} to {max(values):.2f}]" if len(values) > 1 else ""


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def markdown(report: dict[str, Any], results: list[Result], skipped: list[dict[str, str]]) -> str:
    m = report["machine"]
    pk = m["packages"]
    st = report["settings"]
    lines = [
        f"Machine: {m['nproc']} cores ({m['cpu']}), Python {m['python']}, PostgreSQL {m['postgres']} on the same "
        f"host, {m['event_loop']} event loop; SQLAlchemy {pk['sqlalchemy']}, asyncpg {pk['asyncpg']}, "
        f"psycopg {pk['psycopg']}, psycopg-pool {pk['psycopg-pool'] or 'not installed'}.",
        f"Each row: {st['seconds']:g} s measured in {st['rounds']} rounds taking turns with the other stacks, "
        f"after a {st['warmup']:g} s warm-up; {ROWS:,} rows, {WORKSPACES} workspaces. "
        f"Ratios (x) are against `{REFERENCE}` in the same cell of this run.",
        "",
        "| query | tasks | stack | txn/s | txn/s x | p50 ms | p99 ms | CPU s / 1k txn | CPU x |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.concurrency} | {r.stack} | {r.tps:,.0f} | {_ratio(r.ratios.get('tps_vs_reference'))} "
            f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.cpu_s_per_1000:.3f} | {_ratio(r.ratios.get('cpu_vs_reference'))} |"
        )
    for s in skipped:
        lines.append(f"| (all) | | {s['stack']} | skipped: {s['reason']} | | | | | |")

    lines += [
        "",
        "Per cell: psycopg ÷ asyncpg, both through SQLAlchemy (txn/s above 1 favours psycopg, CPU above 1 favours "
        "asyncpg), with the lowest and highest of the per-round ratios in brackets; and SQLAlchemy ÷ bare driver, "
        "CPU per transaction (what SQLAlchemy costs).",
        "",
        "| query | tasks | psycopg ÷ asyncpg txn/s | psycopg ÷ asyncpg CPU/txn | SQLAlchemy ÷ bare CPU/txn, asyncpg "
        "| SQLAlchemy ÷ bare CPU/txn, psycopg |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    tps_ratios: list[float] = []
    cpu_ratios: list[float] = []
    for cell in _cells(results):
        psy = cell.get("SQLAlchemy + psycopg")
        apg = cell.get("SQLAlchemy + asyncpg")
        if psy is None or apg is None:
            continue
        tps_ratios.append(psy.ratios["tps_vs_reference"])
        cpu_ratios.append(psy.ratios["cpu_vs_reference"])
        lines.append(
            f"| {apg.scenario} | {apg.concurrency} "
            f"| {_ratio(tps_ratios[-1])} {_spread(psy.ratios['tps_vs_reference_rounds'])} "
            f"| {_ratio(cpu_ratios[-1])} {_spread(psy.ratios['cpu_vs_reference_rounds'])} "
            f"| {_ratio(apg.ratios.get('cpu_vs_bare_driver')) or 'n/a'} "
            f"| {_ratio(psy.ratios.get('cpu_vs_bare_driver')) or 'n/a (no psycopg_pool)'} |"
        )
    if tps_ratios:
        lines += [
            "",
            f"Geometric mean over the {len(tps_ratios)} cells: psycopg ÷ asyncpg through SQLAlchemy = "
            f"{_geomean(tps_ratios):.2f}x txn/s, {_geomean(cpu_ratios):.2f}x CPU per transaction.",
        ]
    return "\n".join(lines)


def _cells(results: list[Result]) -> list[dict[str, Result]]:
    cells: dict[tuple[str, int], dict[str, Result]] = {}
    for r in results:
        cells.setdefault((r.scenario, r.concurrency), {})[r.stack] = r
    return list(cells.values())


# Entry point ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="superuser URL")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="turns the measured seconds are cut into (default 5)")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds before each row (default 0.5)")
    parser.add_argument("--concurrency", default="1,16", help="comma-separated task counts (default 1,16)")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        help="event loop; default uvloop when installed, as uvicorn picks it (--loop auto)",
    )
    parser.add_argument(
        "--without-pre-ping",
        action="store_true",
        help="add a row: SQLAlchemy + asyncpg without pool_pre_ping (what the check costs)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS_FILE, help=f"JSON output (default {RESULTS_FILE})")
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    if not args.levels or min(args.levels) < 1:
        parser.error("--concurrency needs positive integers")
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1:
        parser.error("--seconds must be positive, --warmup not negative, --rounds at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    admin_url = plain_url(args.url)
    name = f"bench_drivers_{secrets.token_hex(4)}"
    makers, _ = stacks(args.without_pre_ping)
    server_version, max_connections = server_info(admin_url)
    needed = max(args.levels) * len(makers)  # the stacks of one level are open side by side
    if needed > max_connections - 10:
        print(f"error: {needed} connections needed, the server allows {max_connections}", file=sys.stderr)
        return 2
    estimate = len(args.levels) * len(SCENARIOS) * len(makers) * (args.seconds + args.warmup)
    print(f"creating database {name}; about {estimate:.0f} s of load follows", file=sys.stderr, flush=True)
    load_average = os.getloadavg()
    try:
        data = create_database(admin_url, name)
        if args.loop == "uvloop":
            import uvloop

            loop_factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        else:
            loop_factory = asyncio.new_event_loop
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results, skipped = runner.run(
                run_all(
                    plain_url(admin_url, name),
                    data,
                    args.levels,
                    args.seconds,
                    args.warmup,
                    args.rounds,
                    args.without_pre_ping,
                )
            )
    finally:
        drop_database(admin_url, name)

    report: dict[str, Any] = {
        "argv": [Path(sys.argv[0]).as_posix(), *sys.argv[1:]],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(server_version, args.loop, load_average),
        "settings": {
            "seconds": args.seconds,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "concurrency": args.levels,
            "rows": ROWS,
            "workspaces": WORKSPACES,
            "pool_size": "= concurrency (max_overflow = pool_size, pool_pre_ping, as shared.db.make_async_engine)",
        },
        "reference": REFERENCE,
        "results": [asdict(r) for r in results],
        "skipped": skipped,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report, results, skipped))
    print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
