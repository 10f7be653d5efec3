"""Members and invitations: owners manage them, and a workspace never loses its last owner.

"Never loses its last owner" must hold under concurrency too: two owners demoting each
other at once must not both succeed. Every change that could remove an owner first
touches the workspace's owner rows (``UPDATE … SET role = role``), which locks them on
Postgres until the transaction ends (and on SQLite every transaction holds the write
lock anyway), then counts the owners afresh.

Invitations do not reveal whether an account exists: an invitation is recorded either
way, the account (if any) joins at once, and the answer is the same. Accounts created
later join through a database trigger (migration 0003).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import Conflict, NotFound, PermissionDenied
from mcpserver.repository import audit
from mcpserver.repository.workspaces import role_of
from shared.models import Invitation, User, WorkspaceMember, utcnow

LAST_OWNER = "a workspace must keep at least one owner: make another member owner first"
_MEMBER = select(WorkspaceMember.user_id, User.name, WorkspaceMember.role, WorkspaceMember.created_at).outerjoin(
    User, User.id == WorkspaceMember.user_id
)


@dataclass(frozen=True)
class MemberView:
    user_id: uuid.UUID
    name: str | None
    role: str
    joined_at: datetime


async def list_members(session: AsyncSession, caller: Caller, workspace_id: uuid.UUID) -> list[MemberView]:
    """Everyone in a workspace the caller belongs to: owners first, then by name."""
    if await role_of(session, caller.user_id, workspace_id) is None:
        raise NotFound("workspace")
    rows = await session.execute(
        _MEMBER.where(WorkspaceMember.workspace_id == workspace_id).order_by(
            WorkspaceMember.role.desc(), User.name, WorkspaceMember.user_id
        )  # 'owner' > 'member'
    )
    return [MemberView(*row) for row in rows]


async def invite(session: AsyncSession, caller: Caller, workspace_id: uuid.UUID, email: str, role: str) -> None:
    """Record an invitation; an existing account joins now, a future one when it is created."""
    await _require_owner(session, caller, workspace_id, "invite")
    now = utcnow()
    values = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "email": email,
        "role": role,
        "invited_by": caller.user_id,
        "created_at": now,
        "accepted_at": None,
    }
    upsert = _insert(session, Invitation).values(values)
    await session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Invitation.workspace_id, Invitation.email],
            set_={"role": role, "invited_by": caller.user_id, "accepted_at": None},
        )
    )
    user_id = await _account_for(session, email)
    if user_id is not None:
        join = _insert(session, WorkspaceMember).values(
            workspace_id=workspace_id, user_id=user_id, role=role, created_at=now
        )
        await session.execute(join.on_conflict_do_nothing())
        await session.execute(
            update(Invitation)
            .where(Invitation.workspace_id == workspace_id, Invitation.email == email)
            .values(accepted_at=now)
        )
    await audit.record(session, caller, "member.invite", workspace_id=workspace_id, target=email, role=role)


async def remove(
    session: AsyncSession,
    caller: Caller,
    workspace_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> None:
    """Remove a member (by id), or a member and/or pending invitation (by email)."""
    await _lock_owners(session, workspace_id)
    await _require_owner(session, caller, workspace_id, "remove members")
    if email is not None:
        await session.execute(
            delete(Invitation).where(Invitation.workspace_id == workspace_id, Invitation.email == email)
        )
        user_id = await _account_for(session, email)
        if user_id is None:
            await audit.record(session, caller, "member.remove", workspace_id=workspace_id, target=email)
            return
    assert user_id is not None
    role = await role_of(session, user_id, workspace_id)
    if role is None:
        if email is not None:  # the same answer whether or not the address has an account
            await audit.record(session, caller, "member.remove", workspace_id=workspace_id, target=email)
            return
        raise NotFound("member")
    if role == "owner":
        await _require_another_owner(session, workspace_id)
    await session.execute(
        delete(WorkspaceMember).where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id)
    )
    await audit.record(session, caller, "member.remove", workspace_id=workspace_id, target=email or str(user_id))


async def set_role(
    session: AsyncSession, caller: Caller, workspace_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> MemberView:
    await _lock_owners(session, workspace_id)
    await _require_owner(session, caller, workspace_id, "change roles")
    current = await role_of(session, user_id, workspace_id)
    if current is None:
        raise NotFound("member")
    if current == "owner" and role != "owner":
        await _require_another_owner(session, workspace_id)
    await session.execute(
        update(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id)
        .values(role=role)
    )
    await audit.record(session, caller, "member.role", workspace_id=workspace_id, target=str(user_id), role=role)
    row = (
        await session.execute(
            _MEMBER.where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id)
        )
    ).one()
    return MemberView(*row)


async def leave(session: AsyncSession, caller: Caller, workspace_id: uuid.UUID) -> None:
    await _lock_owners(session, workspace_id)
    role = await role_of(session, caller.user_id, workspace_id)
    if role is None:
        raise NotFound("workspace")
    if role == "owner":
        await _require_another_owner(session, workspace_id)
    await audit.record(session, caller, "member.leave", workspace_id=workspace_id, target=str(caller.user_id))
    await session.execute(
        delete(WorkspaceMember).where(
            WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == caller.user_id
        )
    )


async def _require_owner(session: AsyncSession, caller: Caller, workspace_id: uuid.UUID, action: str) -> None:
    role = await role_of(session, caller.user_id, workspace_id)
    if role is None:
        raise NotFound("workspace")
    if role != "owner":
        raise PermissionDenied(f"only owners of a workspace may {action}")


async def _lock_owners(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Lock the owner rows until the transaction ends (a no-op change; RLS lets only owners touch them)."""
    await session.execute(
        update(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "owner")
        .values(role=WorkspaceMember.role)
    )


async def _require_another_owner(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    owners = await session.scalar(
        select(func.count())
        .select_from(WorkspaceMember)
        .where(WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == "owner")
    )
    if (owners or 0) <= 1:
        raise Conflict(LAST_OWNER)


async def _account_for(session: AsyncSession, email: str) -> uuid.UUID | None:
    """The account with this email; on Postgres through the one definer function that may read emails."""
    if session.get_bind().dialect.name == "postgresql":
        found = await session.scalar(text("select app.user_id_for_email(:email)"), {"email": email})
        return None if found is None else uuid.UUID(str(found))
    return await session.scalar(select(User.id).where(User.email == email))


def _insert(session: AsyncSession, table: type[Invitation] | type[WorkspaceMember]) -> Any:
    """An INSERT with ON CONFLICT support in this session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
