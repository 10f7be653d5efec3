"""The soak test: two MCP servers and two authorization servers on a Postgres of the test's own,
simulated users signing in, refreshing, reading and saving shared snippets, while the test
restarts Postgres in immediate mode, SIGKILLs one MCP server and restarts it, rotates the
signing key, disables a user and stops the other MCP server with SIGTERM.

Afterwards: every acknowledged save is there with its whole version history and none was
applied twice; tokens of both authorization servers worked on both MCP servers; the disabled
user was refused within a bounded number of requests; failures were clean retryable errors
(503 with Retry-After, "unavailable" tool errors), never a 500 or a traceback; nothing
waited past the client's timeout; service came back after Postgres did.

The figures of the run (requests, saves acknowledged and found, errors by kind, recovery
time) are written as JSON next to the test's files, to ``$SKILLS_SOAK_REPORT`` when set,
into the test's properties (``record_property``) and into a warning in pytest's summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import signal
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.processes import free_port, run_cli
from tests.soak.cluster import Cluster, cluster_database, postgres_cluster
from tests.soak.servers import Server, add_users
from tests.soak.traffic import CLIENT_TIMEOUT, Recorder, Save, Topology, Traffic, User

USERS = 8
REVOCATION_CHECK_SECONDS = 2
SERVER_REQUEST_TIMEOUT = 8
PAUSE = (0.05, 0.2)
"""Seconds a simulated user waits between two actions (uniformly drawn)."""
DISABLED_PAUSE = 0.1
"""The disabled user's pace once disabled, so that "refused within N requests" has a meaning."""
SCHEDULE = {
    "postgres_restart": 8,
    "mcp1_sigkill": 6,
    "key_rotation": 2,
    "user_disabled": 1,
    "mcp2_sigterm": REVOCATION_CHECK_SECONDS + 3,
    "end": 5,
}
"""Seconds before each step, counted from the end of the one before (a busy machine may take much
longer than usual to restart a process). mcp1 restarts while the key rotates and the user is
disabled; mcp2 stops once mcp1 is back and the disabled user had time to be refused on both."""
RECOVERY_BOUND = 20.0
"""Generous bound on the seconds from Postgres being back to the first save that succeeds."""


class SoakReport(UserWarning):
    """The soak test's figures, shown in pytest's warnings summary."""


async def test_soak(tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    with postgres_cluster() as pg, ExitStack() as stack:
        env, servers = _start(pg, tmp_path, stack)
        users = _add_users(env)
        report = await _run(pg, env, servers, users)
    with (tmp_path / "soak-requests.jsonl").open("w") as log:  # every request, for a post-mortem
        log.writelines(json.dumps(attempt) + "\n" for attempt in report.pop("requests"))
    summary = json.dumps(report, indent=2, sort_keys=True)
    (tmp_path / "soak-report.json").write_text(summary)
    if target := os.environ.get("SKILLS_SOAK_REPORT"):
        Path(target).write_text(summary)
    record_property("soak_report", summary)
    warnings.warn(SoakReport("soak figures: " + json.dumps(report["figures"], sort_keys=True)), stacklevel=1)
    assert not report["failures"], summary


def _start(pg: Cluster, tmp_path: Path, stack: ExitStack) -> tuple[dict[str, str], dict[str, Server]]:
    database = cluster_database(pg, tmp_path)
    ports = {name: free_port() for name in ("auth1", "auth2", "mcp1", "mcp2")}
    env = {
        **database.env,
        "SKILLS_ISSUER_URL": f"http://127.0.0.1:{ports['auth1']}",
        "SKILLS_RESOURCE_URL": f"http://127.0.0.1:{ports['mcp1']}/mcp",
        "SKILLS_MCP_ALLOWED_HOSTS": '["127.0.0.1:*"]',
        "SKILLS_REVOCATION_CHECK_SECONDS": str(REVOCATION_CHECK_SECONDS),
        "SKILLS_REQUEST_TIMEOUT": str(SERVER_REQUEST_TIMEOUT),
        "SKILLS_RATE_LIMIT_READS_PER_MINUTE": "100000",
        "SKILLS_RATE_LIMIT_WRITES_PER_MINUTE": "100000",
        "SKILLS_DB_POOL_SIZE": "4",
        "SKILLS_DB_POOL_OVERFLOW": "4",
        "SKILLS_JWKS_REFETCH_COOLDOWN": "1",
        "SKILLS_LOG_LEVEL": "WARNING",
    }
    migrated = run_cli(["authserver", "db", "upgrade"], env)
    assert migrated.returncode == 0, migrated.stderr
    servers = {
        name: Server(name, name.rstrip("12") + "server", env, port, tmp_path / f"{name}.log")
        for name, port in ports.items()
    }
    for server in servers.values():  # all at once: each takes seconds to import on a busy machine
        server.spawn()
        stack.callback(server.stop_if_running)
    for server in servers.values():
        server.wait_healthy()
    return env, servers


def _add_users(env: dict[str, str]) -> list[User]:
    """The accounts, made in this process (``authserver users add`` once per user costs a process start each)."""
    users = [User(f"user{i}", f"user{i}@example.com", f"soak passphrase {i} {uuid.uuid4().hex}") for i in range(USERS)]
    add_users(env["SKILLS_DATABASE_URL"], [(user.email, user.password, user.name) for user in users])
    return users


async def _run(pg: Cluster, env: dict[str, str], servers: dict[str, Server], users: list[User]) -> dict[str, Any]:
    topology = Topology(
        issuer=env["SKILLS_ISSUER_URL"],
        resource=env["SKILLS_RESOURCE_URL"],
        auth={name: s.base for name, s in servers.items() if name.startswith("auth")},
        mcp={name: s.base for name, s in servers.items() if name.startswith("mcp")},
        mcp_up={"mcp1", "mcp2"},
    )
    recorder = Recorder()
    # No keep-alive: a request is then in flight exactly from its connect, which is what
    # "in-flight requests finish on SIGTERM" is about.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT, limits=limits, follow_redirects=False) as http:
        traffic = Traffic(topology, recorder, http)
        for i, user in enumerate(users):
            assert await traffic.register(user), recorder.attempts[-1]
            assert await traffic.login(user, server=f"auth{i % 2 + 1}") == "ok", recorder.attempts[-3:]
        owner, disabled = users[0], users[-1]
        kind, workspace = await traffic.call_with_retries(owner, "setup", "create_workspace", {"name": "Team"})
        assert kind == "ok", workspace
        team = workspace["id"]
        for user in users[1:]:
            kind, answer = await traffic.call_with_retries(
                owner, "setup", "invite_to_workspace", {"workspace_id": team, "email": user.email}
            )
            assert kind == "ok", answer
        scenario = Scenario(pg, env, servers, topology, traffic, team, disabled)
        scenario.users = users
        started = time.monotonic()
        await asyncio.gather(scenario.faults(), *(scenario.user(u) for u in users))
        return scenario.report(started)


class Scenario:
    def __init__(
        self,
        pg: Cluster,
        env: dict[str, str],
        servers: dict[str, Server],
        topology: Topology,
        traffic: Traffic,
        team: str,
        disabled: User,
    ) -> None:
        self.pg, self.env, self.servers, self.topology = pg, env, servers, topology
        self.traffic, self.recorder, self.team, self.disabled = traffic, traffic.recorder, team, disabled
        self.events: dict[str, float] = {}
        self.users: list[User] = []
        self.over = False
        self.in_flight_at_sigterm = "not sent"
        self.refused_after_disable: Counter[str] = Counter()

    # -- the operator ------------------------------------------------------------------------

    async def faults(self) -> None:
        async def at(name: str) -> None:
            await asyncio.sleep(SCHEDULE[name])
            self.events[name] = time.monotonic()

        await at("postgres_restart")
        await asyncio.to_thread(self.pg.restart, "immediate")
        self.events["postgres_back"] = time.monotonic()

        await at("mcp1_sigkill")
        mcp1 = self.servers["mcp1"]
        await asyncio.to_thread(mcp1.kill)
        self.events["mcp1_killed"] = time.monotonic()
        self.topology.mcp_up.discard("mcp1")
        restarted = asyncio.create_task(asyncio.to_thread(mcp1.start))

        await at("key_rotation")
        rotated = await asyncio.to_thread(run_cli, ["authserver", "keys", "rotate"], self.env)
        assert rotated.returncode == 0, rotated.stderr
        self.events["key_rotation_done"] = time.monotonic()

        await at("user_disabled")
        result = await asyncio.to_thread(run_cli, ["authserver", "users", "disable", self.disabled.email], self.env)
        assert result.returncode == 0, result.stderr
        self.disabled.disabled = True
        self.events["user_disabled_done"] = time.monotonic()

        await restarted
        self.topology.mcp_up.add("mcp1")
        self.events["mcp1_back"] = time.monotonic()

        await at("mcp2_sigterm")
        await self.sigterm_with_a_save_in_flight()
        await at("end")
        self.over = True

    async def sigterm_with_a_save_in_flight(self) -> None:
        """SIGTERM mcp2 while it serves a save that waits for a row lock the test holds: the save
        must finish (acknowledged and stored) while new requests go to mcp1."""
        owner = next(u for u in self.users if u.snippets and not u.disabled)
        snippet_id = owner.snippets[0]
        engine = create_engine(make_url(self.env["SKILLS_DATABASE_URL"]).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            conn.execute(text("select 1 from snippets where id = :id for update"), {"id": snippet_id})
            owner.seq += 1
            save = Save(owner.name, f"{owner.name}:{owner.seq}", uuid.uuid4().hex)
            self.traffic.saves.append(save)
            arguments = {"id": snippet_id, "body": f"body {save.marker}", "message": save.marker}
            in_flight = asyncio.create_task(
                self.traffic.call(
                    owner, "save_at_sigterm", "save_snippet", arguments | {"idempotency_key": save.key}, "mcp2"
                )
            )
            await asyncio.sleep(0.5)  # the save now waits for the lock inside mcp2
            mcp2 = self.servers["mcp2"]
            assert mcp2.proc is not None
            mcp2.proc.send_signal(signal.SIGTERM)
            self.events["mcp2_sigterm_sent"] = time.monotonic()
            self.topology.mcp_up.discard("mcp2")  # the load balancer notices and sends new requests to mcp1
            await asyncio.sleep(1)
            conn.rollback()  # releases the lock
        engine.dispose()
        kind, answer = await in_flight
        self.in_flight_at_sigterm = kind
        if kind == "ok":
            save.snippet_id, save.version = answer["id"], answer["version"]
        self.events["mcp2_exit_code"] = await asyncio.to_thread(mcp2.proc.wait, 30)
        self.events["mcp2_exited"] = time.monotonic()

    # -- a user ------------------------------------------------------------------------------

    async def user(self, user: User) -> None:
        await self.save(user)
        while not self.over:
            if user.disabled:
                await self.as_disabled(user)
                continue
            roll = random.random()
            if roll < 0.3:
                await self.save(user)
            elif roll < 0.85:
                await self.read(user)
            elif roll < 0.96:
                if await self.traffic.refresh_tokens(user) != "ok":
                    await self.traffic.login(user)
            else:
                await self.traffic.login(user)
            await asyncio.sleep(random.uniform(*PAUSE))

    async def save(self, user: User) -> None:
        user.seq += 1
        marker = f"{user.name}:{user.seq}"
        key = uuid.uuid4().hex
        arguments: dict[str, Any] = {"body": f"body {marker}", "message": marker, "idempotency_key": key}
        create = not user.snippets or random.random() < 0.25
        if create:
            arguments |= {"workspace_id": self.team, "title": f"{user.name} snippet {user.seq}"}
        else:
            arguments["id"] = random.choice(user.snippets)
        save = Save(user.name, marker, key)
        self.traffic.saves.append(save)
        kind, answer = await self.traffic.call_with_retries(user, "save", "save_snippet", arguments)
        if kind == "ok":
            save.snippet_id, save.version = answer["id"], answer["version"]
            if create:
                user.snippets.append(answer["id"])
                self.traffic.known_snippets.append(answer["id"])

    async def read(self, user: User) -> None:
        roll = random.random()
        if roll < 0.4 and self.traffic.known_snippets:
            arguments: dict[str, Any] = {"id": random.choice(self.traffic.known_snippets)}
            await self.traffic.call_with_retries(user, "read", "get_snippet", arguments)
        elif roll < 0.8:
            arguments = {"workspace_id": self.team, "limit": 10}
            await self.traffic.call_with_retries(user, "read", "list_snippets", arguments)
        else:
            await self.traffic.call_with_retries(user, "read", "search_snippets", {"query": "body"})

    async def as_disabled(self, user: User) -> None:
        kind, _ = await self.traffic.call(user, "disabled", "list_workspaces", {})
        if kind == "unauthorized" and not self.refused_after_disable:
            # Once refused, a client refreshes or signs in again: both must fail too.
            self.refused_after_disable["refresh"] += await self.traffic.refresh_tokens(user) == "refused"
            self.refused_after_disable["login"] += await self.traffic.login(user) == "refused"
        await asyncio.sleep(DISABLED_PAUSE)

    # -- the verdict -------------------------------------------------------------------------

    def report(self, started: float) -> dict[str, Any]:
        failures: list[str] = []
        attempts = self.recorder.attempts
        kinds = self.recorder.kinds()
        rel = {name: round(at - started, 2) for name, at in self.events.items() if name != "mcp2_exit_code"}

        # Every failure was clean: 503 with Retry-After or an "unavailable" error, a connection a
        # dead server refused or (SIGKILL) dropped; refusals (401, OAuth's 400, the sign-in
        # throttle's 429) only for the disabled user. No other 5xx, no timeout, no traceback.
        transient = {"ok", "http_503", "tool_unavailable", "jsonrpc_unavailable", "connect_error", "dropped"}
        refusals = {"unauthorized", "http_400", "http_429"}
        for (user, kind), count in Counter((a.user, a.kind) for a in attempts).items():
            if kind not in transient and not (user == self.disabled.name and kind in refusals):
                failures.append(f"{count} request(s) of {user} ended {kind}")
        if self.recorder.bodies_with_traceback:
            failures.append(f"tracebacks in responses: {self.recorder.bodies_with_traceback[:3]}")
        if self.events.get("mcp2_exit_code") not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal
            failures.append(f"mcp2 exited with {self.events.get('mcp2_exit_code')} after SIGTERM")
        if self.in_flight_at_sigterm != "ok":
            failures.append(f"the save in flight at SIGTERM ended {self.in_flight_at_sigterm}")

        # Connections dropped only where a process was SIGKILLed, never by SIGTERM or elsewhere.
        kill, killed = self.events["mcp1_sigkill"], self.events["mcp1_killed"]
        term = self.events["mcp2_sigterm_sent"]
        for attempt in attempts:
            if attempt.kind != "dropped":
                continue
            if attempt.server == "mcp1" and attempt.started <= killed and attempt.ended >= kill:
                continue
            failures.append(f"dropped connection not caused by SIGKILL: {attempt}")
        in_flight_at_term = [a for a in attempts if a.server == "mcp2" and a.started < term <= a.ended]
        if any(a.kind not in ("ok", "unauthorized") for a in in_flight_at_term):
            failures.append(f"requests in flight at SIGTERM failed: {in_flight_at_term}")

        # The disabled user: refused within a bounded number of requests, and for good. Each MCP
        # server caches a user's token state for REVOCATION_CHECK_SECONDS, so until then one
        # server may refuse while the other still serves from its cache; once a server has
        # refused it never serves again, and once every cache has expired no server does.
        bound = int((REVOCATION_CHECK_SECONDS + 3) / DISABLED_PAUSE)
        disabled_calls = [a for a in attempts if a.op == "disabled"]
        outcomes = [a.kind for a in disabled_calls]
        refused_at = outcomes.index("unauthorized") if "unauthorized" in outcomes else None
        if refused_at is None:
            failures.append(f"the disabled user was never refused: {Counter(outcomes)}")
        else:
            if refused_at > bound:
                failures.append(f"the disabled user was refused only after {refused_at} requests (bound {bound})")
            for server in {a.server for a in disabled_calls}:
                on_server = [a.kind for a in disabled_calls if a.server == server]
                if "unauthorized" in on_server and "ok" in on_server[on_server.index("unauthorized") :]:
                    failures.append(f"{server} served the disabled user after refusing them")
            expired = self.events["user_disabled_done"] + REVOCATION_CHECK_SECONDS + 0.5
            late = [a for a in disabled_calls if a.kind == "ok" and a.started > expired]
            if late:
                failures.append(f"the disabled user was served after every cache had expired: {late[:3]}")
        if self.refused_after_disable != Counter(refresh=1, login=1):
            failures.append(f"the disabled user could refresh or sign in: {self.refused_after_disable}")

        # Tokens of both authorization servers on both MCP servers.
        pairs = {f"{a}->{m}": n for (a, m), n in sorted(self.traffic.pairs.items())}
        for a in self.topology.auth:
            for m in self.topology.mcp:
                if not self.traffic.pairs[(a, m)]:
                    failures.append(f"no successful call with a token of {a} on {m}")

        # After the key rotation, tokens signed with the new key work on both MCP servers.
        rotated = self.events["key_rotation_done"]
        for m in self.topology.mcp:
            if not any(a.server == m and a.kind == "ok" and a.token_at > rotated for a in attempts):
                failures.append(f"no successful call on {m} with a token signed after the key rotation")

        # Recovery: from Postgres back to the first save that started after and succeeded.
        back = self.events["postgres_back"]
        firsts = [a.ended for a in attempts if a.op == "save" and a.kind == "ok" and a.started >= back]
        recovery = round(min(firsts) - back, 2) if firsts else None
        if recovery is None or recovery > RECOVERY_BOUND:
            failures.append(f"no save succeeded within {RECOVERY_BOUND} s of Postgres returning ({recovery})")
        outage = [a for a in attempts if self.events["postgres_restart"] <= a.started <= back + 5]

        saves = self.verify_saves(failures)
        figures = {
            "requests": len(attempts),
            "requests_by_kind": dict(sorted(kinds.items())),
            "saves_attempted": len(self.traffic.saves),
            "saves_acknowledged": saves["acknowledged"],
            "saves_acknowledged_found": saves["found"],
            "saves_unacknowledged_applied": saves["unacknowledged_applied"],
            "versions_in_database": saves["versions"],
            "recovery_seconds_after_postgres_back": recovery,
            "postgres_restart_seconds": round(back - self.events["postgres_restart"], 2),
            "errors_during_postgres_outage": dict(Counter(a.kind for a in outage if a.kind != "ok")),
            "in_flight_at_sigterm": dict(Counter(a.kind for a in in_flight_at_term)),
            "disabled_user_requests_until_refused": refused_at,
            "token_pairs": pairs,
            "slowest_request_seconds": round(max(a.ended - a.started for a in attempts), 2),
        }
        requests = [
            dataclasses.asdict(a) | {"started": round(a.started - started, 3), "ended": round(a.ended - started, 3)}
            for a in attempts
        ]
        return {"figures": figures, "events": rel, "failures": failures, "requests": requests}

    def verify_saves(self, failures: list[str]) -> dict[str, int]:
        """Compare what clients were told with what the database holds, as a superuser (no RLS)."""
        engine = create_engine(make_url(self.env["SKILLS_DATABASE_URL"]).set(drivername="postgresql+psycopg"))
        with engine.connect() as conn:
            current = dict(conn.execute(text("select id::text, version from snippets")).all())
            rows = conn.execute(text("select snippet_id::text, version, message, body from snippet_versions")).all()
        engine.dispose()
        versions: dict[str, dict[int, tuple[str, str]]] = {}
        for snippet_id, version, message, body in rows:
            versions.setdefault(snippet_id, {})[version] = (message, body)
        for snippet_id, latest in current.items():
            stored = sorted(versions.get(snippet_id, {}))
            if stored != list(range(1, latest + 1)):
                failures.append(f"snippet {snippet_id}: versions {stored}, latest {latest}")
        applied = Counter(message for history in versions.values() for message, _ in history.values())
        acknowledged = [s for s in self.traffic.saves if s.snippet_id is not None]
        found = 0
        for save in acknowledged:
            assert save.snippet_id is not None and save.version is not None
            stored = versions.get(save.snippet_id, {}).get(save.version)
            if stored == (save.marker, f"body {save.marker}"):
                found += 1
            else:
                failures.append(f"acknowledged save {save.marker} is not version {save.version}: {stored}")
        for marker, count in applied.items():
            if count > 1:
                failures.append(f"save {marker} applied {count} times")
        acked = {s.marker for s in acknowledged}
        unacked_applied = sum(1 for s in self.traffic.saves if s.marker not in acked and applied[s.marker])
        return {
            "acknowledged": len(acknowledged),
            "found": found,
            "unacknowledged_applied": unacked_applied,
            "versions": len(rows),
        }
