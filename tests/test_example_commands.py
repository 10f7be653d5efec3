"""The example Claude Code commands (examples/claude/commands) name only tools the server has.

Each is a Markdown file with a ``description`` in its front matter; the tools it asks for are
the server's, and the ones it pre-approves (``allowed-tools``) only read.
"""

from __future__ import annotations

import re

import pytest

from mcpserver.tools import TOOL_SCOPES
from shared import front_matter
from tests.processes import ROOT

COMMANDS = ROOT / "examples" / "claude" / "commands"
SERVER = "shared-skills"


@pytest.mark.parametrize("name", ["snippet", "find", "load"])
def test_example_command_is_valid_and_uses_only_real_tools(name: str) -> None:
    meta, body = front_matter.split((COMMANDS / f"{name}.md").read_text(encoding="utf-8"))
    assert isinstance(meta["description"], str) and meta["description"]
    assert f"`{SERVER}`" in body
    named = set(re.findall(r"`([a-z]+_[a-z_]+)`", body)) - {"workspace_id", "expected_version"}
    assert named and named <= set(TOOL_SCOPES), sorted(named - set(TOOL_SCOPES))
    for tool in (t.strip() for t in str(meta.get("allowed-tools", "")).split(",") if t.strip()):
        prefix, _, bare = tool.rpartition("__")
        assert prefix == f"mcp__{SERVER}", tool
        assert TOOL_SCOPES[bare] == ("snippets:read",), f"{tool} is pre-approved but writes"


def test_the_examples_cover_the_seed_commands() -> None:
    bodies = {p.stem: p.read_text(encoding="utf-8") for p in COMMANDS.glob("*.md")}
    assert sorted(bodies) == ["find", "load", "snippet"]
    assert "`save_snippet`" in bodies["snippet"]
    assert "`search_snippets`" in bodies["find"] and "`list_snippets`" in bodies["find"]
    assert "`get_snippet`" in bodies["load"]
