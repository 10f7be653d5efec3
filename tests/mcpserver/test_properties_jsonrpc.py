"""Property-based tests of the MCP endpoint's JSON-RPC handling, on SQLite and Postgres.

Raw bodies with a valid bearer token, in both protocol eras: invalid JSON, wrong
``jsonrpc`` versions, missing, odd, huge and duplicate ids, batches (which the 2026
revision refuses and the SDK answers one by one or refuses in the older one), nested and
mistyped params, unknown methods, notifications, hostile params for the resource, prompt
and completion methods, and wrong content types. Every answer must be a JSON-RPC result or
error (or an empty 202 for a notification, or a 4xx naming the problem): never a 5xx,
never a traceback or an exception name, always within the client's timeout.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mcpserver.properties import (
    CLASS_NAME,
    FUZZ_SETTINGS,
    LEGACY,
    MODERN,
    Deep,
    FuzzServer,
    check_answer,
    edge_text,
    fuzz_server,
    hostile_value,
    huge_text,
    modern_headers,
    rpc,
    to_json,
)

__all__ = ["fuzz_server"]  # the module-scoped fixture, imported for pytest

MANY = settings(FUZZ_SETTINGS, max_examples=40)
"""Messages are cheap to answer: more of them."""

ERAS = st.sampled_from([LEGACY, MODERN])
METHODS = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "subscriptions/listen",
    "server/discover",
    "notifications/initialized",
    "notifications/cancelled",
]
IDS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**53 + 1, 2**64]),
    edge_text(10),
    huge_text(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def params_for(method: str, ids: list[str]) -> st.SearchStrategy[Any]:
    """Plausible params of ``method`` with hostile values mixed in."""
    workspace, snippet = ids[0], ids[1]
    bases = [f"workspace://{workspace}", f"snippet://{snippet}", "skill://fuzz/seed/", "skill://fuzz/"]
    uri = st.one_of(
        st.builds(lambda base, tail: base + tail, st.sampled_from(bases), edge_text(4)),
        st.sampled_from(
            [
                f"workspace://{workspace}",
                f"workspace://{workspace}/snippets",
                f"workspace://{workspace}/../{snippet}",
                f"snippet://{snippet}",
                f"snippet://{snippet}/versions/1",
                f"snippet://{snippet}/versions/0",
                f"snippet://{snippet}/versions/999999999",
                f"snippet://{snippet}/versions/2147483648",
                f"snippet://{snippet}?version=2147483648",
                f"snippet://{snippet.upper()}",
                "skill://fuzz/seed/SKILL.md",
                "skill://fuzz/seed/references/a.md",
                "skill://fuzz/seed/references/%2e%2e/%2e%2e/SKILL.md",
                "snippet://" + "a" * 5000,
                "skill://fuzz/seed/SKILL.md",
                "skill://fuzz/seed/../../etc/passwd",
                "skill://index.json",
                "file:///etc/passwd",
                "http://169.254.169.254/",
                "",
            ]
        ),
        edge_text(),
        hostile_value(),
    )
    shapes: dict[str, st.SearchStrategy[Any]] = {
        "resources/read": st.fixed_dictionaries({"uri": uri}),
        "resources/subscribe": st.fixed_dictionaries({"uri": uri}),
        "resources/list": st.fixed_dictionaries({}, optional={"cursor": hostile_value()}),
        "prompts/list": st.fixed_dictionaries({}, optional={"cursor": hostile_value()}),
        "prompts/get": st.fixed_dictionaries(
            {"name": st.one_of(st.sampled_from(["fuzz_seed", "seed", "fuzz/seed"]), edge_text(), hostile_value())},
            optional={
                "arguments": st.one_of(
                    st.fixed_dictionaries({"name": st.one_of(edge_text(), huge_text(), hostile_value())}),
                    st.dictionaries(edge_text(8), edge_text(), max_size=3),
                    hostile_value(),
                )
            },
        ),
        "completion/complete": st.fixed_dictionaries(
            {
                "ref": st.one_of(
                    st.fixed_dictionaries(
                        {"type": st.just("ref/prompt"), "name": st.one_of(st.just("fuzz_seed"), edge_text())}
                    ),
                    st.fixed_dictionaries({"type": st.just("ref/resource"), "uri": uri}),
                    hostile_value(),
                ),
                "argument": st.one_of(
                    st.fixed_dictionaries(
                        {
                            "name": st.one_of(st.just("name"), edge_text(10)),
                            "value": st.one_of(edge_text(), huge_text()),
                        }
                    ),
                    hostile_value(),
                ),
            }
        ),
        "tools/call": st.fixed_dictionaries(
            {"name": st.one_of(st.sampled_from(["list_workspaces", "get_snippet"]), edge_text(), hostile_value())},
            optional={"arguments": hostile_value()},
        ),
        "initialize": st.fixed_dictionaries(
            {},
            optional={
                "protocolVersion": st.one_of(st.sampled_from([LEGACY, MODERN, "1999-01-01"]), hostile_value()),
                "capabilities": hostile_value(),
                "clientInfo": hostile_value(),
            },
        ),
        "logging/setLevel": st.fixed_dictionaries({"level": st.one_of(st.just("debug"), hostile_value())}),
    }
    fallback = st.one_of(st.just({}), st.dictionaries(edge_text(8), hostile_value(), max_size=3))
    return st.one_of(shapes.get(method, fallback), hostile_value())


def message_strategy(server: FuzzServer) -> st.SearchStrategy[dict[str, Any]]:
    """One JSON-RPC message: a known or unknown method, good or bad params, odd ids, odd envelopes."""
    method = st.one_of(st.sampled_from(METHODS), edge_text(20), st.sampled_from(["", "rpc.discover", "tools/"]))

    def build(name: str, params: Any, id: Any, era: str, envelope: str, extra: Any) -> dict[str, Any]:
        message = rpc(name, params, id=id, era=era)
        if envelope == "notification":
            message.pop("id")
        elif envelope == "no params":
            message.pop("params")
        elif envelope == "wrong version":
            message["jsonrpc"] = extra
        elif envelope == "no version":
            message.pop("jsonrpc")
        elif envelope == "unknown field":
            message["unknown"] = extra
        elif envelope == "result":
            message = {"jsonrpc": "2.0", "id": id, "result": extra}
        elif envelope == "error":
            message = {"jsonrpc": "2.0", "id": id, "error": {"code": extra, "message": "x"}}
        return message

    return method.flatmap(
        lambda name: st.builds(
            build,
            st.just(name),
            params_for(name, server.ids),
            IDS,
            ERAS,
            st.sampled_from(
                [
                    *("plain", "plain", "notification", "no params", "wrong version", "no version"),
                    *("unknown field", "result", "error"),
                ]
            ),
            st.one_of(st.sampled_from(["1.0", "2", 2.0]), hostile_value()),
        )
    )


def test_any_message_gets_a_clean_answer(fuzz_server: FuzzServer) -> None:
    @MANY
    @given(message=message_strategy(fuzz_server), era=ERAS)
    def send(message: dict[str, Any], era: str) -> None:
        method = message.get("method")
        headers = modern_headers(method, None) if era == MODERN and isinstance(method, str) else {}
        name = (message.get("params") or {}).get("name") if isinstance(message.get("params"), dict) else None
        if era == MODERN and isinstance(name, str) and isinstance(method, str):
            headers = modern_headers(method, name)
        if not all(value.isascii() and value.isprintable() for value in headers.values()):
            headers = {}
        check_answer(fuzz_server.post(to_json(message), era=era, headers=headers))

    send()
    fuzz_server.assert_consistent()


def test_malformed_bodies_get_a_clean_answer(fuzz_server: FuzzServer) -> None:
    valid = to_json(rpc("tools/list", {}))
    bodies = st.one_of(
        st.binary(max_size=200),
        st.integers(min_value=0, max_value=len(valid) - 1).map(lambda n: valid[:n]),  # truncated
        st.sampled_from(
            [
                b"",
                b"null",
                b"[]",
                b"{}",
                b'"tools/list"',
                b"\xef\xbb\xbf" + valid,  # byte order mark
                valid + b"garbage",
                valid.replace(b"tools/list", b"tools/list\\ud800"),  # lone surrogate escaped in JSON
                b'{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list","params":{}}',  # duplicate key
                b'{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"no/such","params":{}}',
                b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}',
                b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
                b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + Deep(5000, "array").text().encode() + b"}",
                b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + Deep(5000, "object").text().encode() + b"}",
                Deep(100_000, "array").text().encode(),
                '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\u202e\U0001f600"}}'.encode(),
                '{"jsonrpc":"2.0","id":1,"method":"ping"}'.encode("utf-16"),
                b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00',
            ]
        ),
    )

    @MANY
    @given(body=bodies, era=ERAS)
    def send(body: bytes, era: str) -> None:
        check_answer(fuzz_server.post(body, era=era, headers=modern_headers("tools/list") if era == MODERN else {}))

    send()


def test_batches_get_a_clean_answer(fuzz_server: FuzzServer) -> None:
    """Batches: the 2026 revision refuses them; the older one answers or refuses, never fails."""
    members = st.one_of(
        st.builds(lambda id: rpc("ping", {}, id=id), IDS),
        st.builds(lambda id: rpc("tools/list", {}, id=id), st.integers(0, 3)),  # duplicate ids likely
        st.just({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        hostile_value(),
    )

    @MANY
    @given(batch=st.lists(members, max_size=6), era=ERAS)
    def send(batch: list[Any], era: str) -> None:
        response = fuzz_server.post(to_json(batch), era=era, headers=modern_headers("ping") if era == MODERN else {})
        check_answer(response)
        if era == MODERN:
            assert response.status_code == 400

    send()


def test_wrong_content_types_and_headers_get_a_clean_answer(fuzz_server: FuzzServer) -> None:
    content_types = st.sampled_from(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/jsonx",
            "",
            "*/*",
        ]
    )
    accepts = st.sampled_from(["text/html", "", "*/*", "application/json", "text/event-stream", "application/xml"])

    @MANY
    @given(content_type=content_types, accept=accepts, era=ERAS, duplicate_method=st.booleans())
    def send(content_type: str, accept: str, era: str, duplicate_method: bool) -> None:
        body = to_json(rpc("tools/list", {}, era=era))
        headers = [
            ("Authorization", f"Bearer {fuzz_server.harness.token(fuzz_server.user)}"),
            ("Mcp-Protocol-Version", era),
            ("Content-Type", content_type),
            ("Accept", accept),
        ]
        if era == MODERN:
            headers.append(("Mcp-Method", "tools/list"))
            if duplicate_method:
                headers.append(("Mcp-Method", "tools/call"))
        response = httpx.post(fuzz_server.harness.resource, content=body, headers=headers, timeout=30)
        assert response.status_code < 500, (response.status_code, response.text[:300])
        assert not CLASS_NAME.search(response.text), response.text[:500]
        if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
            assert "error" in json.loads(response.content), response.text[:300]  # else a short plain-text reason

    send()
