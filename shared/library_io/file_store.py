"""The database side of ``shared-skills files``: one snippet's supporting files, as the operator.

The operator's role bypasses Row-Level Security on Postgres, so these queries name the
snippet by workspace and slug themselves. Every change is audited like the MCP tools' changes
(``snippet.file.add``/``replace``/``remove``), with no acting account.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, delete, insert, select
from sqlalchemy.orm import Session

from shared.library_io.files import FileRecord
from shared.library_io.store import WorkspaceRef, write_files
from shared.models import AuditEvent, Snippet, SnippetFile, utcnow


def find_snippet(session: Session, workspace: WorkspaceRef, slug: str) -> uuid.UUID | None:
    query = select(Snippet.id).where(Snippet.workspace_id == workspace.id, Snippet.slug == slug.strip().lower())
    return session.scalar(query)


def put(session: Session, workspace: WorkspaceRef, snippet_id: uuid.UUID, file: FileRecord, replaced: bool) -> None:
    """Store ``file``, replacing the one at its path when ``replaced``."""
    if replaced:
        session.execute(delete(SnippetFile).where(_at(snippet_id, file.path)))
    write_files(session, snippet_id, [file])
    action = "snippet.file.replace" if replaced else "snippet.file.add"
    _audit(session, workspace, snippet_id, action, path=file.path, size=len(file.content))


def remove(session: Session, workspace: WorkspaceRef, snippet_id: uuid.UUID, path: str) -> bool:
    """Delete the file at ``path``; whether there was one."""
    if session.scalar(select(SnippetFile.path).where(_at(snippet_id, path))) is None:
        return False
    session.execute(delete(SnippetFile).where(_at(snippet_id, path)))
    _audit(session, workspace, snippet_id, "snippet.file.remove", path=path)
    return True


def _at(snippet_id: uuid.UUID, path: str) -> ColumnElement[bool]:
    return and_(SnippetFile.snippet_id == snippet_id, SnippetFile.path == path)


def _audit(session: Session, workspace: WorkspaceRef, snippet_id: uuid.UUID, action: str, **details: object) -> None:
    values = {"action": action, "workspace_id": workspace.id, "target": str(snippet_id), "details": details}
    statement = insert(AuditEvent).values(at=utcnow(), actor_user_id=None, **values)
    session.execute(statement.inline())
