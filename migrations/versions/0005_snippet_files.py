"""Supporting files of snippets served as skills (``snippet_files``).

A file belongs to one snippet and follows it: on Postgres, whoever can read the snippet
reads its files (the EXISTS below is itself filtered by the snippets policy), and whoever
may change the snippet adds, replaces and removes them, exactly like ``snippet_versions``.
RLS is forced; only the MCP role has grants. Deleting the snippet deletes its files.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from shared.settings import Settings

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ME = "(select app.current_user_id())"
TIMESTAMP = sa.DateTime(timezone=True)

# The snippet's own write rule (migration 0002, ``_snippet_writable``), for the parent row ``s``.
PARENT_WRITABLE = (
    "exists (select 1 from public.snippets s where s.id = snippet_files.snippet_id"
    " and app.is_workspace_member(s.workspace_id)"
    f" and (s.created_by = {ME} or (s.visibility <> 'private' and app.is_workspace_owner(s.workspace_id))))"
)
PARENT_READABLE = "exists (select 1 from public.snippets s where s.id = snippet_files.snippet_id)"


def _mcp_role() -> str:
    settings: Settings = context.config.attributes["settings"]
    return op.get_context().dialect.identifier_preparer.quote_identifier(settings.db_mcp_role)


def upgrade() -> None:
    op.create_table(
        "snippet_files",
        sa.Column("snippet_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["snippet_id"], ["snippets.id"], name="fk_snippet_files_snippet_id_snippets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("snippet_id", "path", name="pk_snippet_files"),
    )
    if op.get_context().dialect.name != "postgresql":
        return

    mcp = _mcp_role()
    op.execute(f"grant select, insert, update, delete on public.snippet_files to {mcp}")
    op.execute("alter table public.snippet_files enable row level security")
    op.execute("alter table public.snippet_files force row level security")
    op.execute(f"create policy mcp_select on public.snippet_files for select to {mcp} using ({PARENT_READABLE})")
    op.execute(f"create policy mcp_insert on public.snippet_files for insert to {mcp} with check ({PARENT_WRITABLE})")
    op.execute(
        f"create policy mcp_update on public.snippet_files for update to {mcp}"
        f" using ({PARENT_WRITABLE}) with check ({PARENT_WRITABLE})"
    )
    op.execute(f"create policy mcp_delete on public.snippet_files for delete to {mcp} using ({PARENT_WRITABLE})")


def downgrade() -> None:
    # The policies go with the table.
    op.drop_table("snippet_files")
