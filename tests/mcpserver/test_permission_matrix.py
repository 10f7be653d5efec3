"""The permission matrix: role x visibility x action x same/other workspace.

Workspace A: Alice owns it, Carol and Erin are members. Workspace B: Bob owns it. Dave
belongs nowhere. Snippets of A are created by Carol (a member) and by Alice (the owner),
in each visibility. Every actor tries every action on every snippet:

- through the MCP tools, on SQLite and on Postgres (the repository decides; RLS backs it);
- on Postgres, as plain SQL over a connection of the MCP role with ``app.user_id`` set,
  the repository bypassed: the database alone must give the same answers.

``expected`` is the rule of ``architecture.md``, written once for both.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from mcp.client import Client

from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, call, mcp_harness, text_of

ACTORS = ("alice", "carol", "erin", "bob", "dave")
CREATORS = ("alice", "carol")
VISIBILITIES = ("private", "workspace", "public")
ROLE_IN_A = {"alice": "owner", "carol": "member", "erin": "member"}
MUTATIONS = ("update", "share", "delete")
SHARE_TO = {"private": "workspace", "workspace": "public", "public": "workspace"}


def expected(actor: str, creator: str, visibility: str, action: str) -> str:
    """'ok', 'not found' or 'permission denied' for ``actor`` doing ``action`` to such a snippet of A."""
    role = ROLE_IN_A.get(actor)
    readable = (
        visibility == "public"
        or (visibility == "workspace" and role is not None)
        or (visibility == "private" and actor == creator)
    )
    if not readable:
        return "not found"
    if action in ("read", "list"):
        return "ok"
    writable = role is not None and (actor == creator or (visibility != "private" and role == "owner"))
    return "ok" if writable else "permission denied"


def expected_create(actor: str) -> str:
    return "ok" if actor in ROLE_IN_A else "not found"


@dataclass
class World:
    harness: McpHarness
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    a: str = ""
    b: str = ""


async def build(harness: McpHarness) -> World:
    world = World(harness, {name: harness.add_user(f"{name}@example.com", name.title()) for name in ACTORS})
    async with harness.client(world.users["alice"]) as client:
        world.a = (await call(client, "create_workspace", name="A"))["id"]
        for name in ("carol", "erin"):
            await call(client, "invite_to_workspace", workspace_id=world.a, email=f"{name}@example.com")
    async with harness.client(world.users["bob"]) as client:
        world.b = (await call(client, "create_workspace", name="B"))["id"]
    return world


async def new_snippet(world: World, creator: str, visibility: str, client: Client | None = None) -> str:
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(world.harness.client(world.users[creator]))
        snippet = await call(
            client,
            "save_snippet",
            workspace_id=world.a,
            title=f"{creator} {visibility}",
            body="b",
            visibility=visibility,
        )
    return str(snippet["id"])


def outcome(result: Any) -> str:
    if not result.is_error:
        return "ok"
    text = text_of(result)
    for kind in ("not found", "permission denied"):
        if f": {kind}:" in text:
            return kind
    raise AssertionError(f"unexpected error: {text}")


async def test_permission_matrix_through_the_tools(harness: McpHarness) -> None:
    world = await build(harness)
    cases = list(itertools.product(CREATORS, VISIBILITIES))
    readonly = {(creator, visibility): await new_snippet(world, creator, visibility) for creator, visibility in cases}
    nonexistent = str(uuid.uuid4())
    failures = []
    async with AsyncExitStack() as stack:
        creators = {c: await stack.enter_async_context(harness.client(world.users[c])) for c in CREATORS}
        for actor in ACTORS:
            failures += await _try_everything(world, actor, readonly, creators, nonexistent)
    assert failures == []


async def _try_everything(
    world: World, actor: str, readonly: dict[tuple[str, str], str], creators: dict[str, Client], nonexistent: str
) -> list[tuple[str, ...]]:
    failures: list[tuple[str, ...]] = []
    async with world.harness.client(world.users[actor]) as client:
        listed = await call(client, "list_snippets", workspace_id=world.a, limit=100)
        listed_ids = {s["id"] for s in listed["snippets"]}
        missing = await client.call_tool("get_snippet", {"id": nonexistent})
        for (creator, visibility), sid in readonly.items():
            got = {"read": outcome(await client.call_tool("get_snippet", {"id": sid}))}
            got["list"] = "ok" if sid in listed_ids else "not found"
            for action in MUTATIONS:
                target = await new_snippet(world, creator, visibility, creators[creator])
                arguments: dict[str, Any] = {"id": target}
                tool = {"update": "save_snippet", "share": "share_snippet", "delete": "delete_snippet"}[action]
                if action == "update":
                    arguments["body"] = f"changed by {actor}"
                if action == "share":
                    arguments["visibility"] = SHARE_TO[visibility]
                result = await client.call_tool(tool, arguments)
                got[action] = outcome(result)
                if got[action] == "not found":  # exactly like a snippet that does not exist
                    assert text_of(result) == text_of(missing).replace("get_snippet", tool)
            for action, result in got.items():
                if result != expected(actor, creator, visibility, action):
                    failures.append((actor, creator, visibility, action, result))
        created = await client.call_tool("save_snippet", {"workspace_id": world.a, "title": "t", "body": "b"})
        if outcome(created) != expected_create(actor):
            failures.append((actor, "-", "-", "create", outcome(created)))
    return failures


async def test_owner_cannot_make_a_members_snippet_private(harness: McpHarness) -> None:
    world = await build(harness)
    sid = await new_snippet(world, "carol", "workspace")
    async with harness.client(world.users["alice"]) as client:
        result = await client.call_tool("share_snippet", {"id": sid, "visibility": "private"})
        assert "permission denied: only its creator may make a snippet private" in text_of(result)
        result = await client.call_tool("save_snippet", {"id": sid, "visibility": "private"})
        assert "permission denied" in text_of(result)


# --- the same matrix against the database alone (Postgres, MCP role, no repository) -------


@pytest.fixture
def postgres_harness(postgres_database: Database) -> Iterator[McpHarness]:
    with mcp_harness(postgres_database) as running:
        yield running


@contextmanager
def as_user(world: World, actor: str) -> Iterator[psycopg.Connection]:
    """A transaction of the MCP role acting for ``actor``, rolled back at the end."""
    with psycopg.connect(world.harness.database.env["SKILLS_MCP_DATABASE_URL"]) as conn:
        conn.execute("select set_config('app.user_id', %s, true)", (str(world.users[actor]),))
        try:
            yield conn
        finally:
            conn.rollback()


def sql_outcome(conn: psycopg.Connection, action: str, sid: str, visibility: str) -> str:
    """What the database lets the connection do; refused writes affect no row (or raise)."""
    statements = {
        "read": ("select count(*) from snippets where id = %s", (sid,)),
        "list": ("select count(*) from snippets where id = %s and workspace_id is not null", (sid,)),
        "update": ("update snippets set body = 'changed', version = version + 1 where id = %s", (sid,)),
        "share": ("update snippets set visibility = %s where id = %s", (SHARE_TO[visibility], sid)),
        "delete": ("delete from snippets where id = %s", (sid,)),
    }
    sql, params = statements[action]
    try:
        with conn.transaction(force_rollback=True):
            cursor = conn.execute(sql, params)
            affected = cursor.fetchone()[0] if action in ("read", "list") else cursor.rowcount  # type: ignore[index]
    except psycopg.errors.InsufficientPrivilege:
        return "refused"
    return "ok" if affected == 1 else "refused"


@pytest.mark.postgres
async def test_permission_matrix_in_the_database_alone(postgres_harness: McpHarness) -> None:
    world = await build(postgres_harness)
    snippets = {(c, v): await new_snippet(world, c, v) for c, v in itertools.product(CREATORS, VISIBILITIES)}
    failures = []
    for actor in ACTORS:
        with as_user(world, actor) as conn:
            for (creator, visibility), sid in snippets.items():
                for action in ("read", "list", *MUTATIONS):
                    want = "ok" if expected(actor, creator, visibility, action) == "ok" else "refused"
                    got = sql_outcome(conn, action, sid, visibility)
                    if got != want:
                        failures.append((actor, creator, visibility, action, got))
            try:
                with conn.transaction(force_rollback=True):
                    conn.execute(
                        "insert into snippets (id, workspace_id, created_by, slug, title, description, body, tags,"
                        " visibility, variables, version, updated_at, created_at) values (gen_random_uuid(), %s, %s,"
                        " 'new', 't', '', 'b', '[]', 'workspace', '[]', 1, now(), now())",
                        (world.a, world.users[actor]),
                    )
                created = "ok"
            except psycopg.errors.InsufficientPrivilege:
                created = "not found"
            if created != expected_create(actor):
                failures.append((actor, "-", "-", "create", created))
    assert failures == []
