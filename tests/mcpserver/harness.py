"""A real MCP server on a migrated database (SQLite or Postgres), with a stand-in issuer.

``McpHarness.client(user)`` gives the official ``mcp`` client connected over streamable
HTTP with a bearer token for that user, so tool tests go through the whole stack: HTTP,
the token gate, the SDK, the repository layer and (on Postgres) RLS as the MCP role.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent
from sqlalchemy import insert

from mcpserver.app import create_app
from shared.db import make_engine
from shared.models import User
from shared.schema import upgrade
from shared.settings import Settings
from tests.asgi_server import serve_in_thread
from tests.conftest import Database
from tests.issuer import ALL_SCOPES, StandInIssuer, stand_in_issuer
from tests.processes import free_port


class ToolFailed(AssertionError):
    """A tool answered with ``isError``; the message is its text."""


@dataclass
class McpHarness:
    issuer: StandInIssuer
    settings: Settings
    database: Database

    @property
    def resource(self) -> str:
        return self.settings.resource_url

    def add_user(self, email: str, name: str = "") -> uuid.UUID:
        """Create an account directly in the database (as the authorization server would)."""
        user_id = uuid.uuid4()
        engine = make_engine(self.settings.admin_database_url)
        try:
            with engine.begin() as conn:
                conn.execute(insert(User).values(id=user_id, email=email.lower(), name=name or email.split("@")[0]))
        finally:
            engine.dispose()
        return user_id

    def token(self, user: uuid.UUID | str, scope: str = ALL_SCOPES, **claims: Any) -> str:
        return self.issuer.token(self.resource, user, scope=scope, **claims)

    @asynccontextmanager
    async def client(
        self, user: uuid.UUID | str, *, scope: str = ALL_SCOPES, mode: str = "legacy", token: str | None = None
    ) -> AsyncIterator[Client]:
        headers = {"Authorization": f"Bearer {token or self.token(user, scope)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(self.resource, http_client=http)
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                yield client

    @contextmanager
    def replica(self) -> Iterator[McpHarness]:
        """A second MCP server process on the same database and issuer (another replica)."""
        port = free_port()
        settings = self.settings.model_copy(update={"resource_url": f"http://127.0.0.1:{port}/mcp"})
        with serve_in_thread(create_app(settings), port):
            yield McpHarness(self.issuer, settings, self.database)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured content."""
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        raise ToolFailed(f"{tool} failed: {text_of(result)}")
    assert result.structured_content is not None, tool
    return result.structured_content


async def fails(client: Client, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail; the error text."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} succeeded: {result.structured_content}"
    return text_of(result)


@contextmanager
def mcp_harness(database: Database, **overrides: Any) -> Iterator[McpHarness]:
    """Migrate ``database``, start the stand-in issuer and the MCP server (as the MCP role on Postgres).

    Rate limits are out of the way unless a test sets them.
    """
    overrides = {"rate_limit_reads_per_minute": 1_000_000, "rate_limit_writes_per_minute": 1_000_000, **overrides}
    with stand_in_issuer() as issuer:
        port = free_port()
        values: dict[str, Any] = {k.removeprefix("SKILLS_").lower(): v for k, v in database.env.items()}
        values |= {"issuer_url": issuer.url, "resource_url": f"http://127.0.0.1:{port}/mcp", **overrides}
        settings = Settings(**values)
        upgrade(settings)
        with serve_in_thread(create_app(settings), port):
            yield McpHarness(issuer, settings, database)
