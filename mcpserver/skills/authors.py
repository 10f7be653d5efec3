"""Who wrote a skill (``metadata.author``): the creator's display name, as ``list_members`` shows it.

A member of the snippet's workspace sees the names of its members (``list_members``), never
their email addresses, so the author is the creator's display name when the caller and the
creator are both members of the workspace, and absent otherwise (a public snippet read from
outside, a creator who left or has no name). ``sync-skills`` applies the same rule through the
``list_members`` tool (:mod:`shared.sync_skills`), so both write the same ``SKILL.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.repository.members import list_members
from mcpserver.repository.skill_files import SkillRow


async def authors_of(session: AsyncSession, caller: Caller, rows: Sequence[SkillRow]) -> dict[uuid.UUID, str]:
    """The author of each skill in ``rows`` that has one, by snippet id (one query per member workspace)."""
    member_workspaces = {row.view.workspace_id for row in rows if row.workspace != str(row.view.workspace_id)}
    names: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    for workspace_id in sorted(member_workspaces):
        for member in await list_members(session, caller, workspace_id):
            if member.name:
                names[(workspace_id, member.user_id)] = member.name
    authors = {}
    for row in rows:
        creator = row.view.created_by
        if creator is not None and (row.view.workspace_id, creator) in names:
            authors[row.view.id] = names[(row.view.workspace_id, creator)]
    return authors
