"""The caller's skills: listing entries, one entry, a file's bytes, a folder's children.

Each answer is computed from the database at the moment it is asked, in one transaction
confined to the caller, so an entry's digests always describe the bytes a read returns
now. Anything the caller cannot read answers exactly like something that does not exist
(:class:`mcpserver.errors.NotFound`), whether the skill or a file of it is missing.
"""

from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from mcp_types import BlobResourceContents, ReadResourceResult, Resource, TextResourceContents

from mcpserver import cursors
from mcpserver.context import AppContext, current_caller
from mcpserver.errors import NotFound
from mcpserver.repository import skill_files as repo
from mcpserver.repository.snippets import Position
from mcpserver.skills import limits, paths, uris
from mcpserver.skills.authors import authors_of
from mcpserver.skills.documents import SkillDocument, skill_document
from mcpserver.skills.media_types import DIRECTORY, is_text_type
from mcpserver.skills.wire import SkillEntry, SkillResource

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
CURSOR_KIND = "skills"
SKILL_MD_TYPE = "text/markdown"


@dataclass(frozen=True)
class Skill:
    """A skill as served: its rendered ``SKILL.md`` and its supporting files."""

    snippet_id: uuid.UUID
    document: SkillDocument
    files: list[repo.FileInfo]

    def entry(self) -> SkillEntry:
        doc = self.document
        resources = [SkillResource(uri=doc.uri, digest=doc.digest, size=len(doc.data))]
        resources += [
            SkillResource(uri=uris.file_uri(doc.workspace, doc.name, f.path), digest=f"sha256:{f.sha256}", size=f.size)
            for f in self.files
        ]
        return SkillEntry(uri=doc.uri, frontmatter=doc.front_matter, resources=resources)

    @property
    def within_limits(self) -> bool:
        total = len(self.document.data) + sum(f.size for f in self.files)
        return len(self.files) + 1 <= limits.MAX_FILES and total <= limits.MAX_SKILL_BYTES


class Catalog:
    """The extension's questions, answered for the caller of the current request."""

    def __init__(self, app: AppContext) -> None:
        self.app = app

    async def page(self, cursor: str | None) -> tuple[list[SkillEntry], str | None]:
        """One page of skill entries (never split), newest change first; the next page's cursor.

        Raises cursors.InvalidCursor for a cursor this server did not make.
        """
        after = _position(cursor) if cursor else None
        caller = current_caller()
        async with self.app.transaction(caller) as session:
            rows, more = await repo.list_skills(session, caller.user_id, after=after, limit=PAGE_SIZE)
            files = await repo.files_of(session, [row.view.id for row in rows])
            authors = await authors_of(session, caller, rows)
        entries = []
        for row in rows:
            document = skill_document(row.view, row.workspace, authors.get(row.view.id))
            skill = Skill(row.view.id, document, files[row.view.id])
            if skill.within_limits:
                entries.append(skill.entry())
            else:  # only possible for data written around the tools' checks
                logger.warning("skills.over_limits", extra={"snippet": str(skill.snippet_id)})
        next_cursor = cursors.encode(CURSOR_KIND, [more.updated_at.isoformat(), str(more.id)]) if more else None
        return entries, next_cursor

    async def skill(self, address: uris.SkillAddress) -> Skill:
        """The skill at ``address`` (its path is ignored); NotFound when the caller cannot read it."""
        caller = current_caller()
        async with self.app.transaction(caller) as session:
            row = await repo.find_skill(session, caller.user_id, address.workspace, address.name)
            files = await repo.files_of(session, [row.view.id])
            authors = await authors_of(session, caller, [row])
        document = skill_document(row.view, row.workspace, authors.get(row.view.id))
        return Skill(row.view.id, document, files[row.view.id])

    async def read(self, uri: str) -> ReadResourceResult:
        """``resources/read`` of a skill file: ``SKILL.md`` as Markdown, other files as stored."""
        address = uris.parse(uri)
        if address is None or not address.path:
            raise NotFound("resource")
        if address.path == uris.SKILL_FILE:
            document = (await self.skill(address)).document
            return ReadResourceResult(
                contents=[TextResourceContents(uri=uri, text=document.data.decode(), mime_type=SKILL_MD_TYPE)]
            )
        caller = current_caller()
        async with self.app.transaction(caller) as session:
            row = await repo.find_skill(session, caller.user_id, address.workspace, address.name)
            found = await repo.read_file(session, row.view.id, address.path)
        if found is None:
            raise NotFound("resource")
        info, content = found
        return ReadResourceResult(contents=[_contents(uri, info, content)])

    async def directory(self, uri: str) -> list[Resource]:
        """The direct children of a skill folder; NotFound for a file or a folder that does not exist."""
        address = uris.parse(uri)
        if address is None:
            raise NotFound("directory")
        skill = await self.skill(address)
        files = {f.path: f for f in skill.files}
        folders = {folder for path in files for folder in paths.parents(path)}
        if address.path and address.path not in folders:
            raise NotFound("directory")
        doc = skill.document
        prefix = f"{address.path}/" if address.path else ""
        children: dict[str, Resource] = {}
        if not address.path:
            children[uris.SKILL_FILE] = Resource(
                uri=doc.uri,
                name=doc.name,
                title=uris.SKILL_FILE,
                description=doc.description,
                mime_type=SKILL_MD_TYPE,
                size=len(doc.data),
            )
        for path, info in files.items():
            if not path.startswith(prefix):
                continue
            child, _, deeper = path[len(prefix) :].partition("/")
            child_uri = uris.file_uri(doc.workspace, doc.name, prefix + child)
            if deeper:
                children.setdefault(child, Resource(uri=child_uri, name=child, mime_type=DIRECTORY))
            else:
                children[child] = Resource(uri=child_uri, name=child, mime_type=info.media_type, size=info.size)
        return [children[name] for name in sorted(children)]


def _contents(uri: str, info: repo.FileInfo, content: bytes) -> TextResourceContents | BlobResourceContents:
    """Text for text types that are valid UTF-8 (the same bytes again when encoded), else base64."""
    if is_text_type(info.media_type):
        try:
            return TextResourceContents(uri=uri, text=content.decode("utf-8"), mime_type=info.media_type)
        except UnicodeDecodeError:
            pass
    return BlobResourceContents(uri=uri, blob=base64.b64encode(content).decode(), mime_type=info.media_type)


def _position(cursor: str) -> Position:
    _, position = cursors.decode(cursor, (CURSOR_KIND,))
    try:
        return Position(datetime.fromisoformat(str(position[0])), uuid.UUID(str(position[1])))
    except (ValueError, IndexError) as exc:
        raise cursors.InvalidCursor("not a cursor from this server") from exc
