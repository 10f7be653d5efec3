"""Idempotency keys: a save retried after a lost response is answered, not repeated.

The key is claimed with an insert in the same transaction as the save it guards, so
the save and the memory of it commit together or not at all (a failed save leaves the
key free for the retry). Two attempts with one key at the same moment cannot both run:
on Postgres the second insert waits for the first transaction and then finds its row;
on SQLite transactions are serialized. Keys are per user and expire after
``idempotency_key_seconds``; the caller's expired keys are removed as it claims a new one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mcpserver.context import Caller
from mcpserver.errors import Conflict
from shared.models import IdempotencyKey, utcnow


@dataclass(frozen=True)
class Done:
    """What the first save under a key produced."""

    snippet_id: uuid.UUID
    version: int


def fingerprint(arguments: dict[str, Any]) -> str:
    """A hash of the arguments a key was first used with (canonical JSON)."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(session: AsyncSession, caller: Caller, key: str, request_hash: str, ttl_seconds: int) -> Done | None:
    """None: the key is new and now held by this transaction. Otherwise the earlier result.

    The same key with other arguments is a conflict: the client reused a key by mistake.
    """
    now = utcnow()
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == caller.user_id, IdempotencyKey.created_at < now - timedelta(seconds=ttl_seconds)
        )
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    claimed = await session.execute(
        insert(IdempotencyKey)
        .values(user_id=caller.user_id, key=key, request_hash=request_hash, created_at=now)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)  # not the row count: psycopg's is -1 for an INSERT
    )
    if claimed.first() is not None:
        return None
    row = (
        await session.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.snippet_id, IdempotencyKey.version).where(
                IdempotencyKey.user_id == caller.user_id, IdempotencyKey.key == key
            )
        )
    ).one()
    if row.request_hash != request_hash:
        raise Conflict(
            "this idempotency_key was already used for a save with other arguments: "
            "use a new key for a new save, and the same key only to retry the same save"
        )
    assert row.snippet_id is not None and row.version is not None  # written in the claiming transaction
    return Done(row.snippet_id, row.version)


async def remember(session: AsyncSession, caller: Caller, key: str, done: Done) -> None:
    """Record the result of the save that holds ``key``."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == caller.user_id, IdempotencyKey.key == key)
        .values(snippet_id=done.snippet_id, version=done.version)
    )
