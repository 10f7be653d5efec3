"""The database side of export and import, as the operator (the administrative URL).

Reading turns a workspace's snippets and versions into records (ids out, emails in);
writing does the reverse in the caller's single transaction. The operator's role bypasses
Row-Level Security on Postgres, so these queries choose the workspace themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from shared.library_io.files import FileRecord
from shared.library_io.records import SnippetRecord, VersionRecord
from shared.models import AuditEvent, Snippet, SnippetFile, SnippetVersion, User, Workspace, WorkspaceMember, utcnow

OnConflict = Literal["fail", "skip", "replace"]


class StoreError(ValueError):
    """Something the operator named is missing or inconsistent; the message says what."""


@dataclass(frozen=True)
class WorkspaceRef:
    id: uuid.UUID
    slug: str
    name: str


@dataclass
class ImportPlan:
    """What an import will do with each valid record, decided before anything is written."""

    create: list[SnippetRecord] = field(default_factory=list)
    replace: list[tuple[SnippetRecord, uuid.UUID]] = field(default_factory=list)
    skip: list[SnippetRecord] = field(default_factory=list)
    conflicts: list[SnippetRecord] = field(default_factory=list)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.replace)


def find_workspace(session: Session, ref: str) -> WorkspaceRef | None:
    """The workspace with this slug or id."""
    query = select(Workspace.id, Workspace.slug, Workspace.name)
    try:
        row = session.execute(query.where(Workspace.id == uuid.UUID(ref))).one_or_none()
    except ValueError:
        row = session.execute(query.where(Workspace.slug == ref.strip().lower())).one_or_none()
    return WorkspaceRef(*row) if row else None


def create_workspace(session: Session, slug: str, name: str, owner: uuid.UUID) -> WorkspaceRef:
    """A new workspace with ``owner`` as its first owner (what ``create_workspace`` does for a user)."""
    workspace = Workspace(id=uuid.uuid4(), slug=slug, name=name, created_by=owner)
    session.add(workspace)
    session.flush()
    session.add(WorkspaceMember(workspace_id=workspace.id, user_id=owner, role="owner"))
    return WorkspaceRef(workspace.id, slug, name)


def user_ids(session: Session, emails: Iterable[str]) -> dict[str, uuid.UUID]:
    """The accounts among these emails (stored lower-cased)."""
    wanted = sorted({email.lower() for email in emails})
    if not wanted:
        return {}
    rows = session.execute(select(User.email, User.id).where(User.email.in_(wanted)))
    return {email: user_id for email, user_id in rows}


def count_snippets(session: Session, workspace: WorkspaceRef) -> int:
    query = select(func.count()).select_from(Snippet).where(Snippet.workspace_id == workspace.id)
    return int(session.scalar(query) or 0)


def read_records(session: Session, workspace: WorkspaceRef) -> Iterable[SnippetRecord]:
    """The workspace's snippets in slug order, each with its history, authors as emails."""
    emails = dict(session.execute(select(User.id, User.email)).all())
    snippets = session.scalars(select(Snippet).where(Snippet.workspace_id == workspace.id).order_by(Snippet.slug)).all()
    for snippet in snippets:
        versions = session.scalars(
            select(SnippetVersion).where(SnippetVersion.snippet_id == snippet.id).order_by(SnippetVersion.version)
        ).all()
        yield SnippetRecord(
            slug=snippet.slug,
            title=snippet.title,
            description=snippet.description,
            body=snippet.body,
            tags=list(snippet.tags),
            visibility=snippet.visibility,
            variables=list(snippet.variables),
            version=snippet.version,
            author=emails.get(snippet.created_by) if snippet.created_by else None,
            created_at=snippet.created_at,
            updated_at=snippet.updated_at,
            versions=[
                VersionRecord(
                    version=v.version,
                    title=v.title,
                    description=v.description,
                    body=v.body,
                    tags=list(v.tags),
                    visibility=v.visibility,
                    variables=list(v.variables),
                    author=emails.get(v.author_id) if v.author_id else None,
                    message=v.message,
                    created_at=v.created_at,
                )
                for v in versions
            ],
            files=read_files(session, snippet.id),
        )


def read_files(session: Session, snippet_id: uuid.UUID) -> list[FileRecord]:
    """A snippet's supporting files, in path order."""
    rows = session.execute(
        select(SnippetFile.path, SnippetFile.media_type, SnippetFile.content)
        .where(SnippetFile.snippet_id == snippet_id)
        .order_by(SnippetFile.path)
    )
    return [FileRecord(path, media_type, bytes(content)) for path, media_type, content in rows]


def write_files(session: Session, snippet_id: uuid.UUID, files: Sequence[FileRecord]) -> None:
    """Insert supporting files of a snippet (checked by the caller)."""
    if not files:
        return
    now = utcnow()
    session.execute(
        insert(SnippetFile),
        [
            {
                "snippet_id": snippet_id,
                "path": f.path,
                "content": f.content,
                "media_type": f.media_type,
                "sha256": f.sha256,
                "size": len(f.content),
                "created_at": now,
                "updated_at": now,
            }
            for f in files
        ],
    )


def plan_import(
    session: Session, workspace: WorkspaceRef | None, records: Sequence[SnippetRecord], on_conflict: OnConflict
) -> ImportPlan:
    """Sort records into create, replace, skip, or conflict (``fail``) by the slugs already taken."""
    existing: dict[str, uuid.UUID] = {}
    if workspace is not None:
        slugs = select(Snippet.slug, Snippet.id).where(Snippet.workspace_id == workspace.id)
        existing = {slug: snippet_id for slug, snippet_id in session.execute(slugs)}
    plan = ImportPlan()
    for record in records:
        taken = existing.get(record.slug)
        if taken is None:
            plan.create.append(record)
        elif on_conflict == "skip":
            plan.skip.append(record)
        elif on_conflict == "replace":
            plan.replace.append((record, taken))
        else:
            plan.conflicts.append(record)
    return plan


def write_plan(
    session: Session,
    workspace: WorkspaceRef,
    plan: ImportPlan,
    authors: dict[str, uuid.UUID],
    operator: uuid.UUID | None,
    *,
    advance: Callable[[], None] = lambda: None,
) -> None:
    """Insert every planned snippet with its history; a replaced one is deleted first (new id).

    Versions are append-only (a trigger on Postgres refuses to change them), so replacing a
    snippet means deleting it, which removes its history with it, and inserting the record.
    """

    def person(email: str | None) -> uuid.UUID | None:
        return authors.get(email, operator) if email else operator

    for _, old_id in plan.replace:
        session.execute(delete(Snippet).where(Snippet.id == old_id))
    if plan.replace:
        session.flush()
    for record in [*plan.create, *(record for record, _ in plan.replace)]:
        snippet_id = uuid.uuid4()
        session.execute(
            insert(Snippet).values(
                id=snippet_id,
                workspace_id=workspace.id,
                created_by=person(record.author),
                slug=record.slug,
                title=record.title,
                description=record.description,
                body=record.body,
                tags=record.tags,
                visibility=record.visibility,
                variables=record.variables,
                version=record.version,
                created_at=record.created_at,
                updated_at=record.updated_at,
            )
        )
        session.execute(
            insert(SnippetVersion),
            [
                {
                    "snippet_id": snippet_id,
                    "version": v.version,
                    "workspace_id": workspace.id,
                    "title": v.title,
                    "description": v.description,
                    "body": v.body,
                    "tags": v.tags,
                    "visibility": v.visibility,
                    "variables": v.variables,
                    "author_id": person(v.author),
                    "message": v.message,
                    "created_at": v.created_at,
                }
                for v in record.versions
            ],
        )
        write_files(session, snippet_id, record.files)
        advance()
    session.execute(
        insert(AuditEvent)
        .values(
            at=utcnow(),
            action="snippet.import",
            actor_user_id=operator,
            workspace_id=workspace.id,
            target=workspace.slug,
            details={"created": len(plan.create), "replaced": len(plan.replace), "skipped": len(plan.skip)},
        )
        .inline()
    )
