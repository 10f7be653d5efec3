"""Tools for a snippet's supporting files: add (or replace) one, remove one.

Every snippet is also an Agent Skill (``mcpserver.skills``); its supporting files
(references, examples, templates) are served beside its ``SKILL.md`` as
``skill://<workspace>/<name>/<path>``. Whoever may change the snippet manages its files,
within the extension's limits (``mcpserver.skills.limits``).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import AppContext, current_caller
from mcpserver.errors import InvalidArgument
from mcpserver.repository import skill_files as repo
from mcpserver.repository.snippets import get as get_snippet
from mcpserver.skills import limits, paths, uris
from mcpserver.skills.media_types import media_type_for
from mcpserver.tools.fields import SnippetId
from mcpserver.tools.results import answer
from shared.skill_format import skill_name
from shared.skill_rules.media_types import MEDIA_TYPE

SCOPES: dict[str, tuple[str, ...]] = {
    "add_skill_file": ("snippets:write",),
    "remove_skill_file": ("snippets:write",),
}

FilePath = Annotated[
    str, Field(description="Path inside the skill, like references/checklist.md or templates/email.md", max_length=255)
]


class SkillFileOut(BaseModel):
    snippet_id: str
    path: str
    uri: str = Field(description="Where the file is served: skill://<workspace>/<name>/<path>")
    media_type: str
    size: int = Field(description="Bytes")
    digest: str = Field(description="sha256:<hex> of the bytes")


class SkillFileAdded(SkillFileOut):
    replaced: bool = Field(description="A file at this path was replaced")


def register(server: MCPServer, app: AppContext) -> None:
    @server.tool(
        title="Add a file to a skill",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        ),
    )
    async def add_skill_file(
        id: SnippetId,
        path: FilePath,
        content: Annotated[str | None, Field(description="The file's text (UTF-8)")] = None,
        content_base64: Annotated[str | None, Field(description="Or: the file's bytes, base64-encoded")] = None,
        media_type: Annotated[
            str | None, Field(description="Media type; derived from the file name if omitted", max_length=127)
        ] = None,
    ) -> Annotated[CallToolResult, SkillFileAdded]:
        """Add a supporting file (a reference, an example, a template) to a snippet's skill, or replace
        the file at that path. Give content (text) or content_base64 (bytes). At most 2 MiB per file;
        a skill holds at most 512 files and 16 MiB, SKILL.md included.
        """  # fmt: skip
        path = _path(path)
        data = _bytes(content, content_base64)
        kind = _media_type(media_type) if media_type is not None else media_type_for(path, is_text=content is not None)
        caller = current_caller()
        async with app.transaction(caller) as session:
            info, replaced = await repo.add_file(session, caller, id, path, data, kind)
            uri = await _uri(session, caller.user_id, id, path)
        out = SkillFileAdded(**_out(id, info, uri).model_dump(), replaced=replaced)
        return answer(out, f"{'Replaced' if replaced else 'Added'} {path} ({info.size} bytes): {uri}")

    @server.tool(
        title="Remove a file from a skill",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    )
    async def remove_skill_file(id: SnippetId, path: FilePath) -> Annotated[CallToolResult, SkillFileOut]:
        """Remove a supporting file from a snippet's skill."""
        path = _path(path)
        caller = current_caller()
        async with app.transaction(caller) as session:
            uri = await _uri(session, caller.user_id, id, path)
            info = await repo.remove_file(session, caller, id, path)
        return answer(_out(id, info, uri), f"Removed {path}.")


def _path(path: str) -> str:
    try:
        return paths.check(path.strip())
    except paths.InvalidPath as exc:
        raise InvalidArgument("path", str(exc)) from None


def _bytes(content: str | None, content_base64: str | None) -> bytes:
    if (content is None) == (content_base64 is None):
        raise InvalidArgument("content", "give content (text) or content_base64 (bytes), not both")
    if content is not None:
        data = content.encode()
    else:
        try:
            data = base64.b64decode(content_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument("content_base64", "not base64") from None
    if len(data) > limits.MAX_FILE_BYTES:
        raise InvalidArgument("content", f"a file has at most {limits.MAX_FILE_BYTES} bytes ({len(data)} given)")
    return data


def _media_type(value: str) -> str:
    value = value.strip().lower()
    if not MEDIA_TYPE.match(value):
        raise InvalidArgument("media_type", "a media type like text/markdown or application/json")
    return value


async def _uri(session: AsyncSession, user_id: uuid.UUID, snippet_id: uuid.UUID, path: str) -> str:
    view = await get_snippet(session, user_id, snippet_id)
    label = await repo.workspace_label(session, user_id, view.workspace_id)
    return uris.file_uri(label, skill_name(view.slug), path)


def _out(snippet_id: uuid.UUID, info: repo.FileInfo, uri: str) -> SkillFileOut:
    return SkillFileOut(
        snippet_id=str(snippet_id),
        path=info.path,
        uri=uri,
        media_type=info.media_type,
        size=info.size,
        digest=f"sha256:{info.sha256}",
    )
