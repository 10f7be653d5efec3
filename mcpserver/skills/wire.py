"""The extension's messages, as the SEP-2640 stable page and the conformance suite read them.

``skills/list`` and ``skills/get`` results carry ``ttlMs``/``cacheScope`` on 2026-07-28
(left unset, and so absent, on older protocol versions, whose results have no such
fields); the SDK adds ``resultType: "complete"`` to every 2026-era result itself.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import PaginatedRequestParams, RequestParams, Resource
from mcp_types._types import MCPModel, PaginatedResult, Result
from pydantic import Field


class SkillResource(MCPModel):
    """One file of a skill: what a host verifies a read against."""

    uri: str
    digest: str = Field(description="sha256:<64 lowercase hex> of the file's raw bytes")
    size: int = Field(description="Length of the file's raw bytes")


class SkillEntry(MCPModel):
    uri: str = Field(description="The skill's SKILL.md")
    frontmatter: dict[str, Any] = Field(description="SKILL.md's YAML front matter, as JSON")
    resources: list[SkillResource] = Field(description="Every file of the skill, SKILL.md first")


class CacheHints(MCPModel):
    ttl_ms: int | None = None
    cache_scope: Literal["public", "private"] | None = None


class ListSkillsResult(PaginatedResult, CacheHints):
    skills: list[SkillEntry]


class GetSkillParams(RequestParams):
    uri: str


class GetSkillResult(Result, CacheHints):
    skill: SkillEntry


class DirectoryReadParams(PaginatedRequestParams):
    uri: str


class DirectoryReadResult(PaginatedResult):
    resources: list[Resource]
