"""Pending invitations of a workspace, as its owners see them (members see none)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import NotFound
from mcpserver.repository.workspaces import role_of
from shared.models import Invitation


@dataclass(frozen=True)
class InvitationView:
    email: str
    role: str
    invited_at: datetime


async def pending(session: AsyncSession, caller: Caller, workspace_id: uuid.UUID) -> list[InvitationView]:
    """Invitations not yet joined (no account with that email so far), oldest first; owners only."""
    role = await role_of(session, caller.user_id, workspace_id)
    if role is None:
        raise NotFound("workspace")
    if role != "owner":
        return []
    rows = await session.execute(
        select(Invitation.email, Invitation.role, Invitation.created_at)
        .where(Invitation.workspace_id == workspace_id, Invitation.accepted_at.is_(None))
        .order_by(Invitation.created_at, Invitation.email)
    )
    return [InvitationView(*row) for row in rows]
