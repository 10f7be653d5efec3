"""Sessions of the web library (``web_sessions``), served by the MCP server.

Only the MCP role has grants. RLS is forced: a user reads, writes and deletes only their
own sessions. A request knows the session only by its cookie, before it knows the user,
so ``app.web_session_user(id_hash)`` (SECURITY DEFINER, like ``app.user_id_for_email``)
answers the one question "whose session is this hash?"; everything after that runs as
that user. Knowing a hash already requires the cookie, so the function reveals nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from shared.settings import Settings

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ME = "(select app.current_user_id())"
TIMESTAMP = sa.DateTime(timezone=True)

OWNER_OF = """
create function app.web_session_user(p_id_hash text) returns uuid
language sql stable security definer set search_path = pg_catalog, public
as $$ select s.user_id from public.web_sessions s where s.id_hash = p_id_hash $$;
comment on function app.web_session_user(text) is
  'The user of a web library session, by the SHA-256 of its cookie: the lookup that comes before '
  'the request knows whose session it is (RLS then confines everything else to that user).';
revoke all on function app.web_session_user(text) from public;
"""


def _mcp_role() -> str:
    settings: Settings = context.config.attributes["settings"]
    return op.get_context().dialect.identifier_preparer.quote_identifier(settings.db_mcp_role)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("token_issued_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_web_sessions_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"], unique=False)
    if op.get_context().dialect.name != "postgresql":
        return

    mcp = _mcp_role()
    op.execute(f"grant select, insert, update, delete on public.web_sessions to {mcp}")
    op.execute("alter table public.web_sessions enable row level security")
    op.execute("alter table public.web_sessions force row level security")
    mine = f"user_id = {ME}"
    op.execute(f"create policy mcp_own on public.web_sessions for all to {mcp} using ({mine}) with check ({mine})")
    op.execute(OWNER_OF)
    op.execute(f"grant execute on function app.web_session_user(text) to {mcp}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("drop function if exists app.web_session_user(text)")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")  # the policy goes with the table
