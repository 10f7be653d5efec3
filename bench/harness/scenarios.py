"""What the benchmark measures: one entry per scenario.

A scenario names the server it loads and builds the requests wrk sends (one line per request,
cycled): adding a tool is one ``tool(...)`` line whose function returns the call's arguments
for a user. MCP scenarios run only when the server lists the tool (or answers the method):
the others are reported as waiting for it.
"""

from __future__ import annotations

import json
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx

from harness.seed import BENCH_PASSWORD, SEARCH_QUERIES, Library
from harness.signin import PendingLogin

PROTOCOL_VERSION = "2025-11-25"  # spoken by both SDKs; stateless servers accept a tools/call without initialize
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "Mcp-Protocol-Version": PROTOCOL_VERSION,
}
MCP_FAILURES = ('"isError":true', '"error":{')
DEEP_ITEMS = 1_000  # the "page 1,000 items deep" of list_snippets


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: str
    headers: dict[str, str]

    def line(self) -> str:
        fields = [self.method, self.path, self.body, *(f"{k}: {v}" for k, v in self.headers.items())]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError("a request field holds a tab or a line break")
        return "\t".join(fields)


@dataclass
class Context:
    """Everything a scenario may use to build its requests."""

    library: Library
    readers: dict[uuid.UUID, str]  # user -> access token, for read scenarios
    writers: dict[uuid.UUID, str]  # user -> access token, for write scenarios (other users)
    urls: dict[str, str]  # target -> URL wrk loads
    resource: str
    client_id: str
    admin_url: str
    mcp_tools: set[str] = field(default_factory=set)
    seconds: float = 10.0  # of the run being prepared
    work_dir: Path = Path()
    pending_login: Callable[[], PendingLogin] | None = None
    write_codes: Callable[[int], tuple[list[str], str]] | None = None
    refresh_pool: Callable[[int], list[str]] | None = None

    def mcp_call(self, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One JSON-RPC call to our MCP server, for preparing requests (e.g. fetching a deep cursor)."""
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        response = httpx.post(
            self.urls["mcp"], json=body, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}, timeout=60
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result


class Skip(Exception):
    """The scenario cannot run yet (e.g. the tool does not exist); the message says why."""


Kind = Literal["requests", "refresh"]
Build = Callable[[Context, int, random.Random], list[Request]]


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    target: str  # bare | sdk | node | mcp | auth | nginx
    group: str  # ceiling | baseline | mcp | auth
    build: Build | None = None
    kind: Kind = "requests"
    expect: int = 200
    reject: tuple[str, ...] = ()
    tool: str | None = None
    write: bool = False


def jsonrpc(method: str, params: dict[str, Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, separators=(",", ":"))


def tool_call(token: str | None, name: str, arguments: dict[str, Any]) -> Request:
    headers = dict(MCP_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Request("POST", "/mcp", jsonrpc("tools/call", {"name": name, "arguments": arguments}), headers)


LINES = 2_000  # distinct requests per scenario run (cycled by wrk)

Arguments = Callable[[Context, uuid.UUID, random.Random], dict[str, Any]]


def tool(
    name: str,
    arguments: Arguments,
    *,
    key: str | None = None,
    label: str | None = None,
    write: bool = False,
    users: Callable[[Context], list[uuid.UUID]] | None = None,
) -> Scenario:
    """A ``tools/call`` of our MCP server, as each of many users; ``arguments`` picks the arguments.

    Read calls use the reader tokens, writes other users (so that writes never change what the
    readers see); ``users`` narrows the callers further.
    """

    def build(ctx: Context, connections: int, rng: random.Random) -> list[Request]:
        if name not in ctx.mcp_tools:
            raise Skip(f"the MCP server has no tool {name!r} yet")
        tokens = ctx.writers if write else ctx.readers
        callers = users(ctx) if users else list(tokens)
        return [tool_call(tokens[u], name, arguments(ctx, u, rng)) for u in (rng.choice(callers) for _ in range(LINES))]

    return Scenario(
        key=key or name,
        label=label or f"tools/call {name}",
        target="mcp",
        group="mcp",
        build=build,
        reject=MCP_FAILURES,
        tool=name,
        write=write,
    )


def baseline(key: str, label: str, target: str, group: str = "baseline", tool: str = "list_workspaces") -> Scenario:
    """The same tools/call body to a server without auth or database (no token is sent); ``tool``
    ``list_snippets`` answers a page the size of ours (the goals compare like-sized payloads)."""

    def build(ctx: Context, connections: int, rng: random.Random) -> list[Request]:
        return [tool_call(None, tool, {})]

    return Scenario(key, label, target, group, build, reject=() if target in ("bare", "nginx") else MCP_FAILURES)


# Arguments of each tool -------------------------------------------------------------------


def _workspace_of(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    return {"workspace_id": str(ctx.library.readable_by(user, rng)[0])}


def _snippet_of(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    return {"id": str(ctx.library.readable_by(user, rng)[1])}


def _render(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    """A snippet with variables, each given a value (an unknown name would be refused)."""
    for _ in range(50):
        snippet = ctx.library.readable_by(user, rng)[1]
        names = ctx.library.variables.get(snippet, [])
        if names:
            break
    return {"id": str(snippet), "variables": {name: f"the {name}" for name in names}}


def _search(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    return {"query": rng.choice(SEARCH_QUERIES)}


def _new_snippet(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    nonce = secrets.token_hex(3)
    return {
        "workspace_id": str(ctx.library.readable_by(user, rng)[0]),
        "title": f"Benchmark note {nonce} @@SEQ@@",
        "body": "## Steps\n\nReview the {{topic}} change for {{audience}}; " + "keep it short and concrete. " * 30,
        "tags": ["bench", rng.choice(("review", "docs", "testing"))],
        "message": "benchmark",
    }


_deep_cursors: dict[tuple[str, uuid.UUID], str] = {}


def _deep_page(ctx: Context, user: uuid.UUID, rng: random.Random) -> dict[str, Any]:
    """The page that starts 1,000 items into everything the user can read, newest first (cursor
    fetched once per user and server): no workspace filter, so that a 10,000-snippet library has
    that many too."""
    key = (ctx.urls["mcp"], user)
    if key not in _deep_cursors:
        token = ctx.readers[user]
        cursor, seen = None, 0
        while seen < DEEP_ITEMS:
            args: dict[str, Any] = {"limit": 100}
            if cursor:
                args["cursor"] = cursor
            result = ctx.mcp_call(token, "tools/call", {"name": "list_snippets", "arguments": args})
            page = result.get("structuredContent") or {}
            seen += len(page.get("snippets", page.get("items", [])))
            cursor = page.get("next_cursor")
            if not cursor:
                raise Skip(f"a reader can read fewer than {DEEP_ITEMS + 20} snippets at this library size")
        _deep_cursors[key] = cursor
    return {"cursor": _deep_cursors[key]}


def _deep_readers(ctx: Context) -> list[uuid.UUID]:
    """20 readers (each deep cursor costs ten pages to fetch)."""
    return list(ctx.readers)[:20]


def _prompt_get(ctx: Context, connections: int, rng: random.Random) -> list[Request]:
    users = list(ctx.readers)[:50]
    requests = []
    for user in users:
        try:
            prompts = ctx.mcp_call(ctx.readers[user], "prompts/list", {}).get("prompts", [])
        except (RuntimeError, httpx.HTTPError) as error:
            raise Skip(f"prompts/list is not served yet ({error})") from error
        if not prompts:
            continue
        prompt = rng.choice(prompts)
        arguments = {a["name"]: "benchmark" for a in prompt.get("arguments") or [] if a.get("required")}
        body = jsonrpc("prompts/get", {"name": prompt["name"], "arguments": arguments})
        requests.append(Request("POST", "/mcp", body, {**MCP_HEADERS, "Authorization": f"Bearer {ctx.readers[user]}"}))
    if not requests:
        raise Skip("the MCP server lists no prompts yet")
    return requests


# The authorization server -----------------------------------------------------------------

CODES_PER_SECOND = 800  # written per second of a code-grant run: far more than it redeems
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


def _code_grant(ctx: Context, connections: int, rng: random.Random) -> list[Request]:
    assert ctx.write_codes is not None
    codes, verifier = ctx.write_codes(int(ctx.seconds * CODES_PER_SECOND) + 200)
    return [
        Request(
            "POST",
            "/token",
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": "http://127.0.0.1:1/callback",
                    "client_id": ctx.client_id,
                    "code_verifier": verifier,
                    "resource": ctx.resource,
                }
            ),
            FORM,
        )
        for code in codes
    ]


def _login(ctx: Context, connections: int, rng: random.Random) -> list[Request]:
    assert ctx.pending_login is not None
    pending = ctx.pending_login()
    emails = ctx.library.emails[:200]
    return [
        Request(
            "POST",
            "/login",
            urlencode(
                {
                    "request": pending.request_id,
                    "csrf_token": pending.csrf_token,
                    "email": e,
                    "password": BENCH_PASSWORD,
                }
            ),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{pending.cookie_name}={pending.csrf_token}",
            },
        )
        for e in emails
    ]


# The list ---------------------------------------------------------------------------------

SCENARIOS: list[Scenario] = [
    baseline("ceiling", "load-generator ceiling: nginx, fixed JSON", "nginx", group="ceiling"),
    baseline("a_starlette", "(a) bare Starlette JSON on uvicorn", "bare"),
    baseline("b_sdk", "(b) mcp SDK minimal stateless tools/call", "sdk"),
    baseline("d_node", "(d) TypeScript SDK, server per request, tools/call", "node"),
    baseline("b_sdk_page", "(b) mcp SDK minimal, a list_snippets-sized page", "sdk", tool="list_snippets"),
    baseline("d_node_page", "(d) TypeScript SDK, a list_snippets-sized page", "node", tool="list_snippets"),
    tool("list_workspaces", lambda ctx, user, rng: {}),
    tool("list_snippets", _workspace_of),
    tool(
        "list_snippets",
        _deep_page,
        key="list_snippets_deep",
        label="tools/call list_snippets, 1,000 items deep (all readable)",
        users=_deep_readers,
    ),
    tool("get_snippet", _snippet_of),
    tool("search_snippets", _search),
    tool("render_snippet", _render),
    Scenario("prompts_get", "prompts/get", "mcp", "mcp", _prompt_get, reject=MCP_FAILURES),
    tool("save_snippet", _new_snippet, write=True),
    tool(
        "create_workspace", lambda ctx, user, rng: {"name": f"Bench space {secrets.token_hex(3)} @@SEQ@@"}, write=True
    ),
    Scenario("refresh_grant", "/token refresh grant", "auth", "auth", kind="refresh"),
    Scenario("code_grant", "/token code grant (PKCE)", "auth", "auth", _code_grant),
    Scenario("login", "login (argon2id verify + session)", "auth", "auth", _login, expect=303),
]
