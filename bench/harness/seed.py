"""A throwaway Postgres database, migrated as in production, filled with a realistic library.

The database and its two login roles have names unique to the run (as the test fixtures do)
and are dropped at the end. The library is written with ``COPY`` through the admin URL:

- users (all with the same password, hashed once with the server's argon2id parameters),
- workspaces with mixed membership: a few big team spaces, many small ones (Zipf-like),
  owners and members,
- snippets spread over the workspaces the same way, each by a member of its workspace, with
  a Markdown body (mostly 300 B - 3 KB, with ``{{variable}}`` placeholders), 1-4 tags, 0-3
  variables, a visibility (70 % workspace, 20 % private, 10 % public) and 1-4 versions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.schema import upgrade
from shared.settings import Settings

BENCH_PASSWORD = "bench password 0123456789"  # noqa: S105 - the password of the seeded accounts
SEED = 20_261_124
BODY_POOL = 20_000  # distinct snippet bodies; larger libraries reuse them


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


WORDS = _words(
    "review the pull request for naming tests edge cases and error handling then summarise risks "
    "write a migration plan with rollback steps owners and a timeline keep it short and concrete "
    "explain the incident timeline root cause impact detection and follow up actions to customers "
    "draft release notes grouped by feature fix and breaking change with links to the docs generate "
    "unit tests for the function cover empty input large input unicode and failure paths translate "
    "the message into plain language for a non technical audience keep the tone friendly refactor "
    "this module into smaller functions with clear names and no behaviour change "
)
TAGS = _words(
    "review testing python typescript sql postgres docs release incident security onboarding support "
    "design api frontend backend data ml prompts writing ops infra k8s terraform ci git performance "
    "refactor migration analytics marketing sales legal hiring planning retro standup research "
    "accessibility i18n mobile "
)


def _topic_terms(n: int) -> tuple[str, ...]:
    """Distinct made-up words (service names, jargon) for the long tail of a library's vocabulary."""
    rng = random.Random(SEED)
    onsets, vowels, codas = "bcdfghklmnprstvz", "aeiou", ("", "n", "r", "s", "x", "l", "k")
    terms: list[str] = []
    seen: set[str] = set()
    while len(terms) < n:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(2, 3))) + rng.choice(codas)
        if word not in seen:
            seen.add(word)
            terms.append(word)
    return tuple(terms)


TOPIC_TERMS = _topic_terms(2_000)
"""A body draws a quarter of its words from these, Zipf-distributed (word of rank r with weight 1/r),
as real text does: searches for them match a realistic share of the library, not all of it."""
TOPIC_CUMULATIVE = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(TOPIC_TERMS))))
TOPIC_SHARE = 0.25
SEARCH_QUERIES = (
    *(TOPIC_TERMS[r] for r in (150, 300, 600, 1000, 1500)),
    f"{TOPIC_TERMS[40]} {TOPIC_TERMS[80]}",
    f"{TOPIC_TERMS[60]} or {TOPIC_TERMS[700]}",
    f"migration {TOPIC_TERMS[200]}",
)
"""What the search scenario asks: words of the long tail, alone or combined (the library's common
words, in almost every body, would rank every readable snippet)."""

VARIABLES = ("topic", "audience", "language", "tone", "ticket", "service", "customer", "version")
TITLE_VERBS = ("Review", "Draft", "Explain", "Summarise", "Test", "Refactor", "Plan", "Translate", "Debug", "Document")
TITLE_NOUNS = (
    "a pull request",
    "release notes",
    "an incident report",
    "a migration",
    "unit tests",
    "an API change",
    "a customer reply",
    "a design doc",
    "a SQL query",
    "an onboarding guide",
)


@dataclass
class BenchDatabase:
    """The run's database: the environment both servers get, and how to drop it all."""

    name: str
    superuser_url: str
    env: dict[str, str]
    roles: tuple[str, str]

    def settings(self) -> Settings:
        return Settings(**{k.removeprefix("SKILLS_").lower(): v for k, v in self.env.items()})  # type: ignore[arg-type]

    @property
    def admin_url(self) -> str:
        return self.env["SKILLS_DATABASE_URL"]

    def drop(self) -> None:
        engine = _superuser_engine(self.superuser_url)
        try:
            with engine.connect() as conn:
                conn.execute(text(f'drop database if exists "{self.name}" with (force)'))
                for role in self.roles:
                    conn.execute(text(f'drop role if exists "{role}"'))
        finally:
            engine.dispose()


def _superuser_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


def create_database(superuser_url: str, data_dir: Path) -> BenchDatabase:
    """Create the database and run the migrations (which create the roles, grants and RLS)."""
    admin = make_url(superuser_url)
    suffix = secrets.token_hex(4)
    name, auth_role, mcp_role = f"skills_bench_{suffix}", f"skills_auth_{suffix}", f"skills_mcp_{suffix}"
    engine = _superuser_engine(superuser_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'create database "{name}"'))
    finally:
        engine.dispose()
    url = admin.set(database=name, drivername="postgresql")
    auth_password, mcp_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    env = {
        "SKILLS_DATA_DIR": str(data_dir),
        "SKILLS_DATABASE_URL": url.render_as_string(hide_password=False),
        "SKILLS_DB_AUTH_ROLE": auth_role,
        "SKILLS_DB_MCP_ROLE": mcp_role,
        "SKILLS_DB_AUTH_PASSWORD": auth_password,
        "SKILLS_DB_MCP_PASSWORD": mcp_password,
        "SKILLS_AUTH_DATABASE_URL": url.set(username=auth_role, password=auth_password).render_as_string(
            hide_password=False
        ),
        "SKILLS_MCP_DATABASE_URL": url.set(username=mcp_role, password=mcp_password).render_as_string(
            hide_password=False
        ),
    }
    database = BenchDatabase(name, superuser_url, env, (auth_role, mcp_role))
    try:
        upgrade(database.settings())
    except Exception:
        database.drop()
        raise
    return database


# The library ------------------------------------------------------------------------------


@dataclass
class Library:
    """What was seeded, as the scenarios need it to build requests that make sense."""

    users: list[uuid.UUID]
    emails: list[str]
    workspaces: list[uuid.UUID]
    members: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # workspace -> users
    memberships: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)  # user -> workspaces
    owners: set[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=set)  # (workspace, user)
    # Per workspace, snippets every member can read (visibility workspace or public), as (id, slug).
    readable: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = field(default_factory=dict)
    variables: dict[uuid.UUID, list[str]] = field(default_factory=dict)  # readable snippet -> its variables
    snippets: int = 0
    versions: int = 0
    seconds: float = 0.0

    def readable_by(self, user: uuid.UUID, rng: random.Random) -> tuple[uuid.UUID, uuid.UUID, str]:
        """A (workspace, snippet id, slug) the user may read, from one of the user's workspaces."""
        spaces = [w for w in self.memberships.get(user, []) if self.readable.get(w)]
        if not spaces:
            raise LookupError(f"user {user} can read no workspace snippet")
        workspace = rng.choice(spaces)
        snippet_id, slug = rng.choice(self.readable[workspace])
        return workspace, snippet_id, slug


def _zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def _body(rng: random.Random, variables: list[str]) -> str:
    words = max(40, min(600, int(rng.lognormvariate(4.9, 0.6))))  # median ~ 135 words ~ 800 B
    text_words = rng.choices(WORDS, k=words)
    topical = [i for i in range(len(text_words)) if rng.random() < TOPIC_SHARE]
    for i, term in zip(topical, rng.choices(TOPIC_TERMS, cum_weights=TOPIC_CUMULATIVE, k=len(topical)), strict=True):
        text_words[i] = term
    for name in variables:
        text_words.insert(rng.randrange(len(text_words)), "{{" + name + "}}")
    paragraphs = [" ".join(text_words[i : i + 60]) for i in range(0, len(text_words), 60)]
    return "## Steps\n\n" + "\n\n".join(p[:1].upper() + p[1:] + "." for p in paragraphs)


async def _seed(admin_url: str, users: int, workspaces: int, snippets: int, password_hash: str) -> Library:
    rng = random.Random(SEED)
    now = datetime.now(UTC)
    user_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(users)]
    emails = [f"user{i:05d}@bench.example" for i in range(users)]
    user_rows = [
        (uid, email, f"User {i}", password_hash, now - timedelta(days=400), now)
        for i, (uid, email) in enumerate(zip(user_ids, emails, strict=True))
    ]

    # Workspaces and mixed membership: every user joins 1-12 workspaces, popular ones more often.
    ws_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(workspaces)]
    popularity = _zipf_weights(workspaces, 0.9)
    library = Library(users=user_ids, emails=emails, workspaces=ws_ids)
    creators = {w: rng.choice(user_ids) for w in ws_ids}
    for w in ws_ids:
        library.members[w] = [creators[w]]
        library.owners.add((w, creators[w]))
    for uid in user_ids:
        joined = min(12, 1 + int(rng.expovariate(1 / 2.5)))
        for w in set(rng.choices(ws_ids, weights=popularity, k=joined)):
            if uid not in library.members[w]:
                library.members[w].append(uid)
                if rng.random() < 0.1:
                    library.owners.add((w, uid))
    for w, people in library.members.items():
        for uid in people:
            library.memberships.setdefault(uid, []).append(w)
    ws_rows = [
        (w, f"Workspace {i}", f"workspace-{i}", creators[w], now - timedelta(days=390)) for i, w in enumerate(ws_ids)
    ]
    member_rows = [
        (w, uid, "owner" if (w, uid) in library.owners else "member", now - timedelta(days=380))
        for w, people in library.members.items()
        for uid in people
    ]

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.copy_records_to_table(
            "users", records=user_rows, columns=["id", "email", "name", "password_hash", "created_at", "updated_at"]
        )
        await conn.copy_records_to_table(
            "workspaces", records=ws_rows, columns=["id", "name", "slug", "created_by", "created_at"]
        )
        await conn.copy_records_to_table(
            "workspace_members", records=member_rows, columns=["workspace_id", "user_id", "role", "created_at"]
        )
        snippet_columns = [
            "id", "workspace_id", "created_by", "slug", "title", "description", "body", "tags",
            "visibility", "variables", "version", "updated_at", "created_at",
        ]  # fmt: skip
        version_columns = [
            "snippet_id", "version", "workspace_id", "title", "description", "body", "tags",
            "visibility", "variables", "author_id", "message", "created_at",
        ]  # fmt: skip
        # Bodies: a pool of up to BODY_POOL distinct texts (placeholders of each snippet's variables
        # appended), so that a million snippets seed in minutes; search matches scale with the size.
        bodies = [_body(rng, []) for _ in range(min(snippets, BODY_POOL))]
        # Bulk load: the secondary indexes are dropped and then built again from their own
        # definitions, at once (much faster than row by row, the GIN index above all).
        indexes = await conn.fetch(
            "select indexname, indexdef from pg_indexes where schemaname = 'public'"
            " and tablename in ('snippets', 'snippet_versions')"
            " and indexname not in (select conname from pg_constraint)"
        )
        for index in indexes:
            await conn.execute(f'drop index "{index["indexname"]}"')
        batch = 20_000
        for start in range(0, snippets, batch):
            snippet_rows: list[tuple[Any, ...]] = []
            version_rows: list[tuple[Any, ...]] = []
            for n in range(start, min(snippets, start + batch)):
                w = rng.choices(ws_ids, weights=popularity)[0]
                author = rng.choice(library.members[w])
                sid = uuid.UUID(int=rng.getrandbits(128), version=4)
                title = f"{rng.choice(TITLE_VERBS)} {rng.choice(TITLE_NOUNS)} ({n})"
                slug = f"snippet-{n}"
                names = rng.sample(VARIABLES, k=rng.choice((0, 0, 1, 2, 3)))
                variables = json.dumps([{"name": v, "description": f"The {v}", "default": ""} for v in names])
                tags = json.dumps(sorted(rng.sample(TAGS, k=rng.randint(1, 4))))
                visibility = rng.choices(("workspace", "private", "public"), weights=(70, 20, 10))[0]
                body = bodies[n % len(bodies)] + "".join(f" Mind the {{{{{name}}}}}." for name in names)
                description = f"Use it to {rng.choice(TITLE_VERBS).lower()} {rng.choice(TITLE_NOUNS)}."
                versions = rng.choices((1, 2, 3, 4), weights=(50, 30, 15, 5))[0]
                created = now - timedelta(seconds=rng.randrange(365 * 86400))
                step = timedelta(seconds=rng.randrange(60, 30 * 86400))
                for v in range(1, versions + 1):
                    older = body if v == versions else body[: max(50, len(body) * (6 + v) // 10)]
                    at = created + step * (v - 1)
                    version_rows.append(
                        (sid, v, w, title, description, older, tags, visibility, variables, author, f"v{v}", at)
                    )
                updated = created + step * (versions - 1)
                row = (sid, w, author, slug, title, description, body, tags, visibility, variables, versions)
                snippet_rows.append((*row, updated, created))
                if visibility != "private":
                    library.readable.setdefault(w, []).append((sid, slug))
                    library.variables[sid] = names
                library.versions += versions
            await conn.copy_records_to_table("snippets", records=snippet_rows, columns=snippet_columns)
            await conn.copy_records_to_table("snippet_versions", records=version_rows, columns=version_columns)
        await conn.execute("set maintenance_work_mem = '512MB'")
        for index in indexes:
            await conn.execute(index["indexdef"])
        library.snippets = snippets
        await conn.execute("analyze")
    finally:
        await conn.close()
    return library


def seed_library(database: BenchDatabase, *, users: int, workspaces: int, snippets: int) -> Library:
    from authserver.passwords import hash_password  # the server's own argon2id parameters

    started = time.perf_counter()
    library = asyncio.run(_seed(database.admin_url, users, workspaces, snippets, hash_password(BENCH_PASSWORD)))
    library.seconds = round(time.perf_counter() - started, 1)
    return library


def search_matches(admin_url: str, queries: tuple[str, ...]) -> dict[str, int]:
    """How many snippets (of all, before visibility) each search query matches: what ranking costs."""

    async def count() -> dict[str, int]:
        conn = await asyncpg.connect(admin_url)
        try:
            sql = "select count(*) from snippets where search @@ websearch_to_tsquery('english', $1)"
            return {q: int(await conn.fetchval(sql, q)) for q in queries}
        finally:
            await conn.close()

    return asyncio.run(count())
