"""The snippet library: workspaces, members, invitations, snippets, their versions and files."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, CreatedAt, utcnow

ROLES = ("owner", "member")
VISIBILITIES = ("private", "workspace", "public")


class Workspace(CreatedAt, Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WorkspaceMember(CreatedAt, Base):
    __tablename__ = "workspace_members"

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("role in ('owner', 'member')", name="role"),
        # The RLS helpers and "my workspaces" look members up by user first.
        Index("ix_workspace_members_user_workspace", "user_id", "workspace_id"),
    )


class Invitation(CreatedAt, Base):
    """An invitation by email; joined when an account with that email exists or is created."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str] = mapped_column(String(16))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    accepted_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        CheckConstraint("role in ('owner', 'member')", name="role"),
    )


class Snippet(CreatedAt, Base):
    """The current state of a snippet; every state it had is a row of ``snippet_versions``."""

    __tablename__ = "snippets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    slug: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    visibility: Mapped[str] = mapped_column(String(16), default="workspace")
    variables: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("workspace_id", "slug"),
        CheckConstraint("visibility in ('private', 'workspace', 'public')", name="visibility"),
        Index("ix_snippets_workspace_updated", "workspace_id", "updated_at", "id"),
        Index("ix_snippets_updated", "updated_at", "id"),
        Index("ix_snippets_created_by", "created_by"),
    )


class SnippetVersion(Base):
    """An immutable past or present state of a snippet (append-only)."""

    __tablename__ = "snippet_versions"

    snippet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    visibility: Mapped[str] = mapped_column(String(16))
    variables: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SnippetFile(CreatedAt, Base):
    """A supporting file of a snippet served as a skill (references, examples, templates).

    Read and written with its snippet: whoever reads the snippet reads its files, whoever may
    change it adds and removes them (the same Postgres policies, migration 0005). ``sha256``
    and ``size`` describe ``content`` exactly, so a skill's manifest needs no file bodies.
    """

    __tablename__ = "snippet_files"

    snippet_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    media_type: Mapped[str] = mapped_column(String(127))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(Base):
    """A retry key of ``save_snippet``: the first successful save under (user, key), for a while.

    ``request_hash`` fingerprints the arguments, so the same key with other arguments is
    refused. The result is the version that save created (versions are immutable, so the
    answer can be rebuilt from ``snippet_versions``); no foreign key to the snippet: a key
    must keep meaning "already done" after the snippet is deleted.
    """

    __tablename__ = "idempotency_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    snippet_id: Mapped[uuid.UUID | None]
    version: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


SEARCH_TABLES = ("snippets_fts", "snippets_fts_rows")
"""SQLite full-text search tables (FTS5 and its row map), kept in sync by triggers (migration 0004)."""
SEARCH_COLUMN = "search"
SEARCH_INDEX = "ix_snippets_search"


def maintained_by_migrations(name: str | None, type_: str) -> bool:
    """Search structures only the migrations know: the Postgres ``snippets.search`` tsvector and its
    GIN index, the SQLite FTS5 tables (and FTS5's own shadow tables). Schema comparisons skip them."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(SEARCH_TABLES)
    return (type_ == "column" and name == SEARCH_COLUMN) or (type_ == "index" and name == SEARCH_INDEX)
