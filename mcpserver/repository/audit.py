"""The audit trail of library changes: who did what, to which thing, through which client.

Never bodies or other snippet content: only ids, slugs and the names of what changed.
Inserted with a Core ``INSERT`` without ``RETURNING``: on Postgres the MCP role may add
audit events but read none, and ``RETURNING`` would need to read the row back.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from shared.models import AuditEvent, utcnow

_INSERT = insert(cast(Table, AuditEvent.__table__)).inline()
"""Built once; inline(): no implicit RETURNING of the generated id."""


async def record(
    session: AsyncSession,
    caller: Caller,
    action: str,
    *,
    workspace_id: uuid.UUID | None = None,
    target: str | None = None,
    **details: Any,
) -> None:
    row = {
        "at": utcnow(),
        "action": action,
        "actor_user_id": caller.user_id,
        "client_id": caller.client_id,
        "workspace_id": workspace_id,
        "target": target,
        "details": details,
    }
    await session.execute(_INSERT, row)
