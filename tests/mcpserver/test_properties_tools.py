"""Property-based tests of every tool, on SQLite and Postgres, over raw JSON-RPC.

For each tool that ``tools/list`` publishes, Hypothesis draws arguments from its input
schema (with the seeded library's real ids, and values at and past every limit), sent by
the workspace's owner or by another member, and
hostile variations of them: wrong types, nulls, huge, empty and unicode-edge strings
(NUL, RTL overrides, emoji, lone surrogates escaped in the JSON), deep nesting, unknown
fields, and arguments that are not an object at all. Every answer must be a JSON-RPC
result (possibly ``isError``) or error: never a 5xx, never a traceback or an exception
name, never a crash inside the tool, always within the client's timeout. A call that
fails writes nothing, and afterwards every snippet's history is complete.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpserver.tools import TOOL_SCOPES
from tests.mcpserver.properties import (
    FUZZ_SETTINGS,
    LEGACY,
    MODERN,
    FuzzServer,
    check_answer,
    edge_text,
    fuzz_server,
    hostile_value,
    huge_text,
    known_or_random_ids,
    modern_headers,
    rpc,
    to_json,
)

__all__ = ["fuzz_server"]  # the module-scoped fixture, imported for pytest

WRITE_TOOLS = {name for name, scopes in TOOL_SCOPES.items() if scopes != ("snippets:read",)}


def from_schema(schema: dict[str, Any], defs: dict[str, Any], ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Values valid for a (pydantic-generated) JSON schema, favouring the edges of its bounds."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, ids)
    if "anyOf" in schema:
        return st.one_of([from_schema(option, defs, ids) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum", -5), schema.get("maximum", 10**6)
        edges = {low - 1, low, low + 1, min(high, 3), high, high + 1, 2**31, 2**63, 2**70, -(2**63) - 1}
        return st.one_of(st.sampled_from(sorted(edges)), st.integers(low, high))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "string":
        if schema.get("format") == "uuid":
            return ids
        most = schema.get("maxLength")
        strings = st.one_of(
            edge_text(), st.text(max_size=40), st.sampled_from(["", " ", "a", "x-y", "references/b.md"])
        )
        if most is not None:
            at_edge = st.sampled_from([most, most + 1]).map(lambda n: "s" * n)
            return st.one_of(strings, at_edge)
        return strings
    if kind == "array":
        items = from_schema(schema.get("items", {}), defs, ids)
        most = schema.get("maxItems", 4)
        return st.lists(items, max_size=min(most + 1, 6))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        drawn = st.fixed_dictionaries(
            {name: from_schema(prop, defs, ids) for name, prop in properties.items() if name in required},
            optional={name: from_schema(prop, defs, ids) for name, prop in properties.items() if name not in required},
        )
        if isinstance(extra, dict):
            drawn = st.dictionaries(edge_text(10), from_schema(extra, defs, ids), max_size=4)
        return drawn
    return hostile_value()


def arguments_for(schema: dict[str, Any], ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Valid arguments, the same with one value made hostile or an unknown field, or no object at all."""
    valid = from_schema(schema, schema.get("$defs", {}), ids)
    names = sorted(schema.get("properties", {})) or ["x"]

    def spoil(arguments: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
        return {**arguments, name: value}

    return st.one_of(
        valid,
        valid,
        st.builds(spoil, valid, st.sampled_from(names), hostile_value()),
        st.builds(spoil, valid, st.sampled_from(names), huge_text()),
        st.builds(spoil, valid, st.sampled_from(["unknown_field", "_meta", "__proto__", ""]), hostile_value()),
        hostile_value(),
    )


@pytest.fixture(scope="module")
def tool_schemas(fuzz_server: FuzzServer) -> dict[str, dict[str, Any]]:
    answer = check_answer(fuzz_server.post(to_json(rpc("tools/list", {}))))
    assert answer is not None
    return {tool["name"]: tool["inputSchema"] for tool in answer["result"]["tools"]}


def test_tools_list_publishes_every_tool(tool_schemas: dict[str, dict[str, Any]]) -> None:
    assert set(tool_schemas) == set(TOOL_SCOPES)


@pytest.mark.parametrize("tool", sorted(TOOL_SCOPES))
def test_any_arguments_get_a_clean_answer_and_failures_write_nothing(
    fuzz_server: FuzzServer, tool_schemas: dict[str, dict[str, Any]], tool: str
) -> None:
    schema = tool_schemas[tool]

    @FUZZ_SETTINGS
    @given(
        arguments=arguments_for(schema, known_or_random_ids(fuzz_server)),
        era=st.sampled_from([LEGACY, MODERN]),
        as_member=st.booleans(),  # the owner, or a member who may not change the owner's private snippets
    )
    def call_tool(arguments: Any, era: str, as_member: bool) -> None:
        before = fuzz_server.counts() if tool in WRITE_TOOLS else None
        message = rpc("tools/call", {"name": tool, "arguments": arguments}, era=era)
        headers = modern_headers("tools/call", tool) if era == MODERN else {}
        response = fuzz_server.post(to_json(message), era=era, headers=headers, as_member=as_member)
        answer = check_answer(response, tool=tool)
        failed = answer is None or "error" in answer or answer["result"].get("isError")
        if before is not None and failed:
            assert fuzz_server.counts() == before, (tool, "a refused call wrote something")

    call_tool()
    fuzz_server.assert_consistent()
