"""The MCP server on each database (SQLite and Postgres), one per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Database
from tests.mcpserver.harness import McpHarness, mcp_harness


@pytest.fixture
def harness(database: Database) -> Iterator[McpHarness]:
    with mcp_harness(database) as running:
        yield running
