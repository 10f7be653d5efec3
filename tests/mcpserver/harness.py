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

    def token(self, user: uuid.UUID, scope: str = ALL_SCOPES, **claims: Any) -> str:
        return self.issuer.token(self.resource, user, scope=scope, **claims)

    @asynccontextmanager
    async def client(self, user: uuid.UUID, *, scope: str = ALL_SCOPES, mode: str = "legacy") -> AsyncIterator[Client]:
        headers = {"Authorization": f"Bearer {self.token(user, scope)}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(self.resource, http_client=http)
            async with Client(transport, mode=mode) as client:  # type: ignore[arg-type]
                yield client


@contextmanager
def mcp_harness(database: Database, **overrides: Any) -> Iterator[McpHarness]:
    """Migrate ``database``, start the stand-in issuer and the MCP server (as the MCP role on Postgres)."""
    with stand_in_issuer() as issuer:
        port = free_port()
        settings = Settings(
            **{k.removeprefix("SKILLS_").lower(): v for k, v in database.env.items()},  # type: ignore[arg-type]
            issuer_url=issuer.url,
            resource_url=f"http://127.0.0.1:{port}/mcp",
            **overrides,
        )
        upgrade(settings)
        with serve_in_thread(create_app(settings), port):
            yield McpHarness(issuer, settings, database)
