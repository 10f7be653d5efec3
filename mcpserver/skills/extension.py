"""The ``io.modelcontextprotocol/skills`` extension (SEP-2640) on the SDK's extension seam.

Declared under ``capabilities.extensions`` with its one setting inline
(``directoryRead: true``, SEP-2133). It adds three request methods: ``skills/list``
(paginated entries, never split across pages), ``skills/get`` (one entry by its
``SKILL.md`` URI) and ``resources/directory/read`` (a skill folder's children; the SDK has
no handler for it). ``resources/read`` stays with :mod:`mcpserver.resources`, which hands
``skill://`` URIs to :meth:`SkillsExtension.read_resource`.

Every answer is per user: on 2026-07-28 the results say ``cacheScope: "private"``. Anything
the caller cannot read, or that does not exist, is JSON-RPC ``-32602`` with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, PaginatedRequestParams, ReadResourceResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcpserver import cursors
from mcpserver.context import AppContext
from mcpserver.errors import NotFound
from mcpserver.skills import uris
from mcpserver.skills.catalog import Catalog
from mcpserver.skills.wire import (
    DirectoryReadParams,
    DirectoryReadResult,
    GetSkillParams,
    GetSkillResult,
    ListSkillsResult,
)

IDENTIFIER = "io.modelcontextprotocol/skills"
METHODS = ("skills/list", "skills/get", "resources/directory/read")
PRIVATE = {"ttl_ms": 0, "cache_scope": "private"}


class SkillsExtension(Extension):
    identifier = IDENTIFIER

    def __init__(self, app: AppContext) -> None:
        self.catalog = Catalog(app)

    def settings(self) -> dict[str, Any]:
        return {"directoryRead": True}

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding(method="skills/list", params_type=PaginatedRequestParams, handler=self._list),
            MethodBinding(method="skills/get", params_type=GetSkillParams, handler=self._get),
            MethodBinding(method="resources/directory/read", params_type=DirectoryReadParams, handler=self._directory),
        )

    async def read_resource(self, uri: str) -> ReadResourceResult:
        """``resources/read`` of a ``skill://`` URI; one NotFound for a missing skill, file or folder."""
        try:
            return await self.catalog.read(uri)
        except NotFound:
            raise NotFound("resource") from None

    async def _list(self, ctx: ServerRequestContext[Any, Any], params: PaginatedRequestParams | None) -> Any:
        cursor = params.cursor if params is not None else None
        try:
            entries, next_cursor = await self.catalog.page(cursor)
        except cursors.InvalidCursor as exc:
            raise MCPError(INVALID_PARAMS, f"invalid cursor: {exc}") from None
        return ListSkillsResult(skills=entries, next_cursor=next_cursor, **_cache_hints(ctx))

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: GetSkillParams) -> Any:
        address = uris.parse(params.uri)
        try:
            if address is None or address.path != uris.SKILL_FILE:
                raise NotFound("skill")
            skill = await self.catalog.skill(address)
        except NotFound:
            raise _not_served(params.uri, "skill") from None
        return GetSkillResult(skill=skill.entry(), **_cache_hints(ctx))

    async def _directory(self, ctx: ServerRequestContext[Any, Any], params: DirectoryReadParams) -> Any:
        if params.cursor is not None:  # every folder fits one page; this server never hands out a cursor
            raise MCPError(INVALID_PARAMS, "invalid cursor: not a cursor from this server")
        try:
            children = await self.catalog.directory(params.uri)
        except NotFound:
            raise _not_served(params.uri, "directory") from None
        return DirectoryReadResult(resources=children)


def _cache_hints(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
    """Per-user results: private, on the protocol versions that have cache hints at all."""
    return PRIVATE if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS else {}


def _not_served(uri: str, what: str) -> MCPError:
    return MCPError(INVALID_PARAMS, f"not found: no {what} at that URI is visible to you", data={"uri": uri})
