"""Snippet reads under RLS ask for the caller's workspaces once per query, not once per row.

The MCP role's read policy on ``snippets`` (migration 0002) called
``app.is_workspace_member(workspace_id)`` for every row it filtered: a SECURITY DEFINER
function, so never inlined, one index probe of ``workspace_members`` per row. A search that
ranks a few thousand matches spent three quarters of its time there (EXPLAIN ANALYZE as the
MCP role: 1.12 s against 0.28 s for the same query without RLS). The policy now compares
``workspace_id`` with the array of the caller's workspaces, computed once per query by
``app.my_workspaces()`` inside a scalar subquery (an InitPlan). Who may read what is
unchanged: public snippets to the signed-in, workspace snippets to members, private ones
to their creator while a member.

Postgres only; SQLite has no policies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import context, op

from shared.settings import Settings

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ME = "(select app.current_user_id())"
MINE = "(select app.my_workspaces())::uuid[]"  # an array expression: any(subquery) would compare with rows

READABLE = (
    f"(visibility = 'public' and {ME} is not null)"
    f" or (visibility = 'workspace' and workspace_id = any({MINE}))"
    f" or (visibility = 'private' and created_by = {ME} and workspace_id = any({MINE}))"
)
READABLE_BEFORE = (  # migration 0002's
    f"(visibility = 'public' and {ME} is not null)"
    " or (visibility = 'workspace' and app.is_workspace_member(workspace_id))"
    f" or (visibility = 'private' and created_by = {ME} and app.is_workspace_member(workspace_id))"
)

MY_WORKSPACES = """
create function app.my_workspaces() returns uuid[]
language sql stable security definer set search_path = pg_catalog, public
as $$
  select coalesce(array_agg(m.workspace_id), '{}') from public.workspace_members m
  where m.user_id = app.current_user_id()
$$;
comment on function app.my_workspaces() is
  'The workspaces of the user of this transaction; SECURITY DEFINER like app.is_workspace_member.';
revoke all on function app.my_workspaces() from public;
"""


def _mcp_role() -> str:
    settings: Settings = context.config.attributes["settings"]
    return op.get_context().dialect.identifier_preparer.quote_identifier(settings.db_mcp_role)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(MY_WORKSPACES)
    op.execute(f"grant execute on function app.my_workspaces() to {_mcp_role()}")
    op.execute(f"alter policy mcp_select on public.snippets using ({READABLE})")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"alter policy mcp_select on public.snippets using ({READABLE_BEFORE})")
    op.execute("drop function app.my_workspaces()")
