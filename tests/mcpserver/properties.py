"""Shared pieces of the property-based tests: a seeded server per database, raw JSON-RPC over
HTTP, hostile values, and the checks every answer and the database must pass.

Requests are built and sent by hand (``httpx``, a valid bearer token with every scope), so
that anything can be sent: lone surrogates escaped in JSON, deep nesting, wrong types.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from mcpserver import cursors
from shared.db import make_engine
from shared.models import (
    AuditEvent,
    IdempotencyKey,
    Invitation,
    Snippet,
    SnippetFile,
    SnippetVersion,
    Workspace,
    WorkspaceMember,
)
from tests.conftest import Database, _postgres_database
from tests.mcpserver.harness import McpHarness, call, mcp_harness

INTERNAL_ERROR = -32603
LEGACY = "2025-11-25"
MODERN = "2026-07-28"
TIMEOUT = httpx.Timeout(30.0)
"""Every request must be answered within this (a hang fails the test as a timeout, no timing assert)."""

FUZZ_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,  # the same examples every run, so a failure in CI reproduces
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

CLASS_NAME = re.compile(
    r"\b(?!JSONRPC)[A-Z][A-Za-z]*(?:Error|Exception|Warning)\b|\.Error\b|Traceback|File \"/"
    r"|\[SQL: |sqlalchemy|asyncpg|psycopg|sqlite3"
)
"""An exception class name, a traceback line or SQL in an answer: internals leaking to the caller.

(``JSONRPCError`` and its kin are the protocol's message types, which the SDK names when an
envelope matches none of them.)"""

EDGE_CHARACTERS = [
    "\x00",  # NUL: Postgres text cannot hold it
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u200b",  # zero-width space
    "\ufeff",  # byte order mark
    "\u2028",  # line separator
    "\u0085",  # next line
    "e\u0301",  # combining accent
    "\U0001f600",  # emoji (astral plane)
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # joined emoji
    "\ud800",  # lone high surrogate: escaped as \\ud800 in the JSON text
    "\udfff",  # lone low surrogate
    "\uffff",
    "{{",
    "}}",
    "\\{{x}}",
    "'; drop table snippets; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%s%n",
    "\r\n",
    "\t",
    '"',
    "\\",
    "漢字",
    "ﷺ",
    " ",
]


class Deep:
    """A value nested ``depth`` levels (arrays or objects), written straight into the JSON text."""

    def __init__(self, depth: int, kind: str) -> None:
        self.depth, self.kind = depth, kind

    def text(self) -> str:
        if self.kind == "array":
            return "[" * self.depth + "1" + "]" * self.depth
        return '{"a":' * self.depth + "1" + "}" * self.depth


def to_json(value: Any) -> bytes:
    """JSON text with lone surrogates escaped (``ensure_ascii``) and :class:`Deep` values inlined."""
    deep: dict[str, Deep] = {}

    def placeholder(item: Any) -> Any:
        if isinstance(item, Deep):
            key = f"@@deep{len(deep)}@@"
            deep[key] = item
            return key
        raise TypeError(type(item))

    text = json.dumps(value, ensure_ascii=True, default=placeholder)
    for key, item in deep.items():
        text = text.replace(json.dumps(key), item.text())
    return text.encode()


def edge_text(max_size: int = 30) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(EDGE_CHARACTERS), st.text(max_size=5))
    return st.lists(pieces, max_size=max_size).map("".join)


def huge_text() -> st.SearchStrategy[str]:
    """Strings around and far beyond the tools' limits, built without making Hypothesis draw each character."""
    return st.builds(
        lambda piece, size: (piece * size)[: size * 2],
        st.sampled_from(["a", "é", "\U0001f600", "\u202e", "{{x}} ", " "]),
        st.sampled_from([0, 1, 200, 201, 2000, 2001, 100_000, 100_001, 600_000]),
    )


def crafted_cursor() -> st.SearchStrategy[str]:
    """Cursors are base64 JSON: forged ones, deeply nested or with wrong positions, must be refused cleanly."""
    documents = st.sampled_from(
        [
            "[" * 5000 + "]" * 5000,
            '{"v":1,"k":"snippets","p":[1,2,3],"q":null}',
            '{"v":1,"k":"snippets","p":["9999-99-99","x"],"q":null}',
            '{"v":1,"k":"versions","p":[1e999],"q":null}',
            '{"v":1,"k":"search","p":[null,null],"q":null}',
            "null",
        ]
    )
    forged = documents.map(lambda text: base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode())
    # Well-formed cursors of list_snippets without filters, holding positions the server never made.
    positions = st.sampled_from(
        [
            [1, 2],
            ["not a date", "x"],
            ["2024-01-01T00:00:00+00:00", "not a uuid"],
            ["9999-12-31T23:59:59.999999+14:00", str(uuid.UUID(int=0))],
            ["0001-01-01T00:00:00-14:00", str(uuid.UUID(int=2**128 - 1))],
            [None],
            "position",
            {"a": 1},
        ]
    )
    unfiltered = ["None", [], None, False]
    return forged | positions.map(lambda position: cursors.encode("snippets", position, unfiltered))


def hostile_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        crafted_cursor(),
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, -1, 2**31, 2**31 - 1, 2**63, -(2**63) - 1, 10**30]),
        st.floats(allow_nan=False, allow_infinity=False),
        edge_text(),
        huge_text(),
    )
    deep = st.builds(Deep, st.sampled_from([50, 500, 5000]), st.sampled_from(["array", "object"]))
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(edge_text(8), inner, max_size=3),
        max_leaves=6,
    )
    return st.one_of(scalars, deep, nested)


# The server -----------------------------------------------------------------------------


@dataclass
class FuzzServer:
    """A running MCP server with a seeded library; ``ids`` are real ids for the fuzzer to use."""

    harness: McpHarness
    user: uuid.UUID
    member: uuid.UUID
    engine: Engine
    ids: list[str] = field(default_factory=list)

    def post(
        self, body: bytes, *, era: str = LEGACY, headers: dict[str, str] | None = None, as_member: bool = False
    ) -> httpx.Response:
        """POST as the workspace's owner (or its other member), with a fresh token: tokens here live minutes."""
        user = self.member if as_member else self.user
        sent = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Mcp-Protocol-Version": era,
            "Authorization": f"Bearer {self.harness.token(user)}",
            **(headers or {}),
        }
        return httpx.post(self.harness.resource, content=body, headers=sent, timeout=TIMEOUT)

    def counts(self) -> dict[str, int]:
        """Rows of every table a tool writes (rate limits and call logs aside)."""
        tables = (Workspace, WorkspaceMember, Invitation, Snippet, SnippetVersion, SnippetFile, IdempotencyKey)
        with Session(self.engine) as session:
            found = {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
            found["audit_events"] = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        return found

    def assert_consistent(self) -> None:
        """Every snippet has versions 1..version, the newest matching the snippet itself."""
        with Session(self.engine) as session:
            for snippet in session.scalars(select(Snippet)):
                versions = list(
                    session.scalars(
                        select(SnippetVersion)
                        .where(SnippetVersion.snippet_id == snippet.id)
                        .order_by(SnippetVersion.version)
                    )
                )
                assert [v.version for v in versions] == list(range(1, snippet.version + 1)), snippet.id
                newest = versions[-1]
                assert (newest.title, newest.body, newest.description, newest.tags, newest.variables) == (
                    snippet.title,
                    snippet.body,
                    snippet.description,
                    snippet.tags,
                    snippet.variables,
                ), snippet.id


def rpc(method: str, params: Any, id: Any = 1, era: str = LEGACY) -> dict[str, Any]:
    if era == MODERN and isinstance(params, dict):
        meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
        params = {**params, "_meta": {**meta, **params.get("_meta", {})}}
    return {"jsonrpc": "2.0", "id": id, "method": method, "params": params}


def modern_headers(method: str, name: str | None = None) -> dict[str, str]:
    headers = {"Mcp-Method": method}
    if name is not None and name.isascii() and name.isprintable():
        headers["Mcp-Name"] = name
    return headers


def _successful(response: httpx.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    result = data.get("result") if isinstance(data, dict) else None
    return isinstance(result, dict) and not result.get("isError")


def check_answer(response: httpx.Response, *, tool: str | None = None) -> dict[str, Any] | None:
    """A clean answer: no 5xx, no internals, a JSON-RPC result or error (or an empty 202 for a notification)."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if not _successful(response):  # a success echoes the caller's own text, which may say anything
        assert not CLASS_NAME.search(response.text), response.text[:1000]
    if response.status_code == 202:
        assert not response.content.strip()
        return None
    if response.status_code == 413:
        return None
    data = response.json()
    assert isinstance(data, dict) and data.get("jsonrpc") == "2.0", response.text[:500]
    assert ("result" in data) != ("error" in data), data
    if "error" in data:
        assert isinstance(data["error"]["code"], int) and isinstance(data["error"]["message"], str), data
        assert data["error"]["code"] not in (0, INTERNAL_ERROR), f"a crash: {data}"
        return data
    result = data["result"]
    if tool is not None and isinstance(result, dict) and "content" in result:
        if result.get("isError"):
            text = " ".join(block.get("text", "") for block in result["content"])
            # The SDK's wording for a crash inside the tool: nothing of it reaches the caller, but it is a bug.
            assert text.strip() != f"Error executing tool {tool}", f"{tool} crashed"
            assert response.status_code == 200
        else:
            assert "structuredContent" in result, result
    return data


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServer]:
    """One server per database for a module, with two users, a workspace, a snippet with a file and variables."""
    data_dir: Path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    postgres = _postgres_database(data_dir) if request.param == "postgresql" else None
    database = next(postgres) if postgres else Database("sqlite", {"SKILLS_DATA_DIR": str(data_dir)}, data_dir)
    try:
        with mcp_harness(database) as harness:
            server = _seeded(harness)
            yield server
            server.engine.dispose()
    finally:
        if postgres is not None:
            postgres.close()


def _seeded(harness: McpHarness) -> FuzzServer:
    owner = harness.add_user("owner@example.com", "Owner")
    member = harness.add_user("member@example.com", "Member")

    async def seed() -> list[str]:
        async with harness.client(owner) as client:
            ws = (await call(client, "create_workspace", name="Fuzz"))["id"]
            await call(client, "invite_to_workspace", workspace_id=ws, email="member@example.com")
            snippet = await call(
                client,
                "save_snippet",
                workspace_id=ws,
                title="Seed",
                body="Hello {{name}}",
                tags=["seed"],
                variables=[{"name": "name", "description": "who", "default": "you"}],
            )
            await call(client, "save_snippet", id=snippet["id"], body="Hello {{name}}!", message="second")
            await call(client, "add_skill_file", id=snippet["id"], path="references/a.md", content="# A")
            private = await call(client, "save_snippet", workspace_id=ws, title="Mine", body="x", visibility="private")
            return [ws, snippet["id"], private["id"]]

    ids = anyio.run(seed)
    engine = make_engine(harness.settings.admin_database_url)
    return FuzzServer(harness, owner, member, engine, [*ids, str(owner), str(member)])


def known_or_random_ids(server: FuzzServer) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(server.ids), st.uuids().map(str))


def new_id() -> str:
    return str(uuid.uuid4())
