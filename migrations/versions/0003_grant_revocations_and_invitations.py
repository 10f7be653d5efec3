"""Grant revocations, and pending invitations that join their account when it is created.

- ``grant_revocations``: "access tokens of this user for this client issued before
  ``not_before`` are refused". The authorization server writes it; the MCP server reads
  the caller's own rows. On Postgres: RLS forced, the auth role has the whole table, the
  MCP role selects its own rows only.
- A trigger on ``users`` turns pending invitations for the new account's email into
  memberships, whichever process creates the account (the operator CLI, a sign-up page,
  a test). It runs on both databases; on Postgres it is SECURITY DEFINER so that the auth
  role needs no grant beyond inserting users.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from shared.settings import Settings

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ME = "(select app.current_user_id())"

POSTGRES_TRIGGER = """
create function app.join_invited_workspaces() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $$
begin
  insert into public.workspace_members (workspace_id, user_id, role, created_at)
    select i.workspace_id, new.id, i.role, now() from public.invitations i
    where i.email = new.email and i.accepted_at is null
    on conflict do nothing;
  update public.invitations set accepted_at = now() where email = new.email and accepted_at is null;
  return new;
end
$$;
comment on function app.join_invited_workspaces() is
  'Pending invitations for a new account''s email become memberships as the account is created.';
revoke all on function app.join_invited_workspaces() from public;

create trigger users_join_invited_workspaces
  after insert on public.users
  for each row execute function app.join_invited_workspaces();
"""

# SQLite stores timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff' (what SQLAlchemy's DateTime writes and reads).
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_TRIGGER = f"""
create trigger users_join_invited_workspaces after insert on users
begin
  insert or ignore into workspace_members (workspace_id, user_id, role, created_at)
    select workspace_id, new.id, role, {SQLITE_NOW} from invitations
    where email = new.email and accepted_at is null;
  update invitations set accepted_at = {SQLITE_NOW} where email = new.email and accepted_at is null;
end
"""


def _roles() -> tuple[str, str]:
    settings: Settings = context.config.attributes["settings"]
    quote = op.get_context().dialect.identifier_preparer.quote_identifier
    return quote(settings.db_mcp_role), quote(settings.db_auth_role)


def upgrade() -> None:
    op.create_table(
        "grant_revocations",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=2048), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_grant_revocations_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "client_id", name="pk_grant_revocations"),
    )
    if op.get_context().dialect.name != "postgresql":
        op.execute(SQLITE_TRIGGER)
        return

    mcp, auth = _roles()
    op.execute(POSTGRES_TRIGGER)
    op.execute(f"grant select, insert, update, delete on public.grant_revocations to {auth}")
    op.execute(f"grant select on public.grant_revocations to {mcp}")
    op.execute("alter table public.grant_revocations enable row level security")
    op.execute("alter table public.grant_revocations force row level security")
    op.execute(f"create policy auth_all on public.grant_revocations for all to {auth} using (true) with check (true)")
    op.execute(f"create policy mcp_select on public.grant_revocations for select to {mcp} using (user_id = {ME})")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("drop trigger if exists users_join_invited_workspaces on public.users")
        op.execute("drop function if exists app.join_invited_workspaces()")
    else:
        op.execute("drop trigger if exists users_join_invited_workspaces")
    op.drop_table("grant_revocations")
