"""The snippet library: workspaces, members, invitations, snippets and their versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
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
