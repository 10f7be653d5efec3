"""Postgres security: runtime roles, grants, the ``app`` helper schema and row-level security.

The repository layer is the first line of defence; this is the backstop that still holds
when a query above it is wrong. Each server connects with its own role:

- the MCP role sees the library through policies that read ``app.user_id``, a
  transaction-local setting the MCP server sets first in every transaction; with no
  setting it sees nothing. It cannot read password hashes, client secrets or tokens.
- the auth role has the identity and OAuth tables, and just enough of the library to turn
  pending invitations into memberships; it cannot read snippets.

Every table is ``FORCE ROW LEVEL SECURITY`` and the runtime roles own nothing. The role
that runs the migrations owns the tables and the SECURITY DEFINER helpers, so it must be
a superuser or BYPASSRLS (forced RLS would otherwise hide every row from the helpers).

On SQLite this revision does nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import context, op

from shared.settings import Settings

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table of 0001 (alembic_version is the only table of schema public without RLS).
TABLES = (
    "users",
    "browser_sessions",
    "login_throttle",
    "oauth_clients",
    "authorization_requests",
    "authorization_codes",
    "refresh_tokens",
    "consents",
    "signing_keys",
    "workspaces",
    "workspace_members",
    "invitations",
    "snippets",
    "snippet_versions",
    "rate_limits",
    "audit_events",
)

MCP, AUTH = "mcp", "auth"
CRUD = "select, insert, update, delete"

# Never ALL: it includes TRUNCATE, which ignores row-level security.
GRANTS: dict[str, dict[str, str]] = {
    MCP: {
        # Column-level: never email or password_hash.
        "users": "select (id, name, disabled_at, tokens_valid_after)",
        "workspaces": CRUD,
        "workspace_members": CRUD,
        "invitations": CRUD,
        "snippets": CRUD,
        "snippet_versions": "select, insert",  # append-only
        "rate_limits": CRUD,
        "audit_events": "select, insert",  # no policy lets it read any
    },
    AUTH: {
        "users": CRUD,
        "browser_sessions": CRUD,
        "login_throttle": CRUD,
        "oauth_clients": CRUD,
        "authorization_requests": CRUD,
        "authorization_codes": CRUD,
        "refresh_tokens": CRUD,
        "consents": CRUD,
        "signing_keys": CRUD,
        "audit_events": CRUD,
        # Pending invitations become memberships when their account is created.
        "workspaces": "select",
        "workspace_members": "select, insert",
        "invitations": "select, update",
    },
}
SEQUENCES = ("audit_events_id_seq",)  # the bigserial of audit_events.id; both roles audit

# The caller, evaluated once per statement rather than once per row.
ME = "(select app.current_user_id())"

FUNCTIONS = """
create schema app;

create function app.current_user_id() returns uuid
language sql stable
as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;
comment on function app.current_user_id() is
  'The user the MCP server acts for in this transaction; NULL when unset (a pooled connection '
  'reads an unset transaction-local setting back as the empty string).';

create function app.is_workspace_member(ws uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, public
as $$
  select exists (
    select 1 from public.workspace_members m
    where m.user_id = app.current_user_id() and m.workspace_id = ws
  )
$$;
comment on function app.is_workspace_member(uuid) is
  'SECURITY DEFINER so that policies on workspace_members can ask it without recursing.';

create function app.is_workspace_owner(ws uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, public
as $$
  select exists (
    select 1 from public.workspace_members m
    where m.user_id = app.current_user_id() and m.workspace_id = ws and m.role = 'owner'
  )
$$;

create function app.can_claim_workspace(ws uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, public
as $$
  select exists (
      select 1 from public.workspaces w where w.id = ws and w.created_by = app.current_user_id()
    )
    and not exists (select 1 from public.workspace_members m where m.workspace_id = ws)
$$;
comment on function app.can_claim_workspace(uuid) is
  'True when the caller created the workspace and it has no members yet: its first owner. '
  'SECURITY DEFINER because nobody can see the members of a workspace they are not in.';

create function app.user_id_for_email(p_email text) returns uuid
language sql stable security definer set search_path = pg_catalog, public
as $$
  select u.id from public.users u
  where u.email = lower(p_email) and app.current_user_id() is not null
$$;
comment on function app.user_id_for_email(text) is
  'The one lookup of users by email (emails are stored lower-cased): turns an invitation into '
  'a user id without letting the MCP role read the email column. Only for a signed-in caller.';

create function app.snippet_versions_append_only() returns trigger
language plpgsql security definer set search_path = pg_catalog, public
as $$
declare
  unchanged public.snippet_versions;
begin
  if tg_op = 'DELETE' then
    -- The cascade from deleting the snippet or its workspace: the parent is already gone.
    if not exists (select 1 from public.snippets s where s.id = old.snippet_id)
       or not exists (select 1 from public.workspaces w where w.id = old.workspace_id) then
      return old;
    end if;
  else
    -- ON DELETE SET NULL from deleting the author's account: author_id becomes null, nothing else.
    unchanged := new;
    unchanged.author_id := old.author_id;
    if new.author_id is null and old.author_id is not null
       and unchanged is not distinct from old
       and not exists (select 1 from public.users u where u.id = old.author_id) then
      return new;
    end if;
  end if;
  raise exception 'snippet_versions is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

create trigger snippet_versions_append_only
  before update or delete on public.snippet_versions
  for each row execute function app.snippet_versions_append_only();
"""

# Who may call which helper (EXECUTE is revoked from PUBLIC on every function of app).
FUNCTION_GRANTS: dict[str, tuple[str, ...]] = {
    MCP: (
        "app.current_user_id()",
        "app.is_workspace_member(uuid)",
        "app.is_workspace_owner(uuid)",
        "app.can_claim_workspace(uuid)",
        "app.user_id_for_email(text)",
    ),
    AUTH: (),
}
ALL_FUNCTIONS = (*FUNCTION_GRANTS[MCP], "app.snippet_versions_append_only()")


@dataclass(frozen=True)
class Policy:
    """One ``create policy``, targeted at one runtime role."""

    table: str
    name: str
    role: str
    command: str  # all | select | insert | update | delete
    using: str | None = None
    check: str | None = None


def _snippet_readable(t: str = "") -> str:
    """Who reads a snippet: public to the signed-in, workspace to members, private to its creator."""
    return (
        f"({t}visibility = 'public' and {ME} is not null)"
        f" or ({t}visibility = 'workspace' and app.is_workspace_member({t}workspace_id))"
        f" or ({t}visibility = 'private' and {t}created_by = {ME} and app.is_workspace_member({t}workspace_id))"
    )


def _snippet_writable(t: str = "") -> str:
    """Who changes a snippet: a member who created it, or an owner of its workspace unless it is private."""
    return (
        f"app.is_workspace_member({t}workspace_id)"
        f" and ({t}created_by = {ME} or ({t}visibility <> 'private' and app.is_workspace_owner({t}workspace_id)))"
    )


MCP_POLICIES = (
    # users: myself, and the people I share a workspace with.
    Policy(
        "users",
        "mcp_select",
        MCP,
        "select",
        using=f"id = {ME} or exists (select 1 from public.workspace_members theirs"
        " where theirs.user_id = users.id and app.is_workspace_member(theirs.workspace_id))",
    ),
    # workspaces: members see them; the creator too (so INSERT … RETURNING works before the
    # first membership exists); only owners change or delete them.
    Policy("workspaces", "mcp_select", MCP, "select", using=f"created_by = {ME} or app.is_workspace_member(id)"),
    Policy("workspaces", "mcp_insert", MCP, "insert", check=f"created_by = {ME}"),
    Policy(
        "workspaces",
        "mcp_update",
        MCP,
        "update",
        using="app.is_workspace_owner(id)",
        check="app.is_workspace_owner(id)",
    ),
    Policy("workspaces", "mcp_delete", MCP, "delete", using="app.is_workspace_owner(id)"),
    # workspace_members: members see the member list; owners manage it; the creator of a
    # workspace without members becomes its first owner; anyone may leave.
    Policy(
        "workspace_members",
        "mcp_select",
        MCP,
        "select",
        using=f"user_id = {ME} or app.is_workspace_member(workspace_id)",
    ),
    Policy(
        "workspace_members",
        "mcp_insert",
        MCP,
        "insert",
        check=f"app.is_workspace_owner(workspace_id) or (user_id = {ME} and role = 'owner'"
        " and app.can_claim_workspace(workspace_id))",
    ),
    Policy(
        "workspace_members",
        "mcp_update",
        MCP,
        "update",
        using="app.is_workspace_owner(workspace_id)",
        check="app.is_workspace_owner(workspace_id)",
    ),
    Policy(
        "workspace_members",
        "mcp_delete",
        MCP,
        "delete",
        using=f"app.is_workspace_owner(workspace_id) or user_id = {ME}",
    ),
    # invitations: the owners of the workspace, for everything.
    Policy(
        "invitations",
        "mcp_all",
        MCP,
        "all",
        using="app.is_workspace_owner(workspace_id)",
        check="app.is_workspace_owner(workspace_id)",
    ),
    # snippets: read by visibility; created by members as themselves; changed by writers.
    Policy("snippets", "mcp_select", MCP, "select", using=_snippet_readable()),
    Policy(
        "snippets",
        "mcp_insert",
        MCP,
        "insert",
        check=f"created_by = {ME} and app.is_workspace_member(workspace_id)",
    ),
    Policy("snippets", "mcp_update", MCP, "update", using=_snippet_writable(), check=_snippet_writable()),
    Policy("snippets", "mcp_delete", MCP, "delete", using=_snippet_writable()),
    # snippet_versions: visible with their snippet (the EXISTS is itself filtered by the
    # snippets policy); appended by whoever may change the snippet; never changed.
    Policy(
        "snippet_versions",
        "mcp_select",
        MCP,
        "select",
        using="exists (select 1 from public.snippets s where s.id = snippet_versions.snippet_id)",
    ),
    Policy(
        "snippet_versions",
        "mcp_insert",
        MCP,
        "insert",
        check="exists (select 1 from public.snippets s where s.id = snippet_versions.snippet_id"
        f" and s.workspace_id = snippet_versions.workspace_id and {_snippet_writable('s.')})",
    ),
    # rate_limits: my own counters.
    Policy("rate_limits", "mcp_all", MCP, "all", using=f"user_id = {ME}", check=f"user_id = {ME}"),
    # audit_events: write-only, as myself.
    Policy("audit_events", "mcp_insert", MCP, "insert", check=f"actor_user_id = {ME}"),
)
# The auth role is trusted with whole tables; its grants limit it to the tables and commands it needs.
AUTH_POLICIES = tuple(Policy(table, "auth_all", AUTH, "all", using="true", check="true") for table in GRANTS[AUTH])
POLICIES = MCP_POLICIES + AUTH_POLICIES


def _settings() -> Settings:
    settings: Settings = context.config.attributes["settings"]
    return settings


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def _ident(name: str) -> str:
    return op.get_context().dialect.identifier_preparer.quote_identifier(name)


def _literal(value: str) -> str:
    processor = sa.String().literal_processor(op.get_context().dialect)
    assert processor is not None
    return str(processor(value))


def _role_names() -> dict[str, str]:
    settings = _settings()
    return {MCP: settings.db_mcp_role, AUTH: settings.db_auth_role}


def upgrade() -> None:
    if not _is_postgres():
        return
    settings = _settings()
    roles = _role_names()
    passwords = {MCP: settings.db_mcp_password, AUTH: settings.db_auth_password}

    op.execute(
        """
        do $do$
        begin
          if not exists (select 1 from pg_roles where rolname = current_user and (rolsuper or rolbypassrls)) then
            raise exception 'the role running the migrations must be a superuser or BYPASSRLS: it owns the '
              'tables and the SECURITY DEFINER helpers of the row-level security policies';
          end if;
        end
        $do$
        """
    )
    for key, name in roles.items():
        _ensure_role(name, passwords[key])

    op.execute(FUNCTIONS)
    for function in ALL_FUNCTIONS:
        op.execute(f"revoke all on function {function} from public")

    for key, role in roles.items():
        r = _ident(role)
        op.execute(
            "do $do$ begin execute format('grant connect on database %I to %I',"
            f" current_database(), {_literal(role)}); end $do$"
        )
        op.execute(f"grant usage on schema public, app to {r}")
        for table, privileges in GRANTS[key].items():
            op.execute(f"grant {privileges} on public.{table} to {r}")
        for sequence in SEQUENCES:
            op.execute(f"grant usage on sequence public.{sequence} to {r}")
        for function in FUNCTION_GRANTS[key]:
            op.execute(f"grant execute on function {function} to {r}")

    for table in TABLES:
        op.execute(f"alter table public.{table} enable row level security")
        op.execute(f"alter table public.{table} force row level security")
    for policy in POLICIES:
        sql = (
            f"create policy {policy.name} on public.{policy.table} for {policy.command} to {_ident(roles[policy.role])}"
        )
        if policy.using is not None:
            sql += f" using ({policy.using})"
        if policy.check is not None:
            sql += f" with check ({policy.check})"
        op.execute(sql)


def _ensure_role(name: str, password: str | None) -> None:
    """Create the login role, or make an existing one safe: never superuser, never BYPASSRLS.

    Attributes are only altered when they need to change, so a non-superuser admin with
    CREATEROLE can re-run this against roles that are already right.
    """
    op.execute(
        f"""
        do $do$
        begin
          if {_literal(name)} = current_user then
            raise exception 'runtime role % must not be the role that runs the migrations', current_user;
          end if;
          if not exists (select 1 from pg_roles where rolname = {_literal(name)}) then
            create role {_ident(name)} login;
          elsif exists (select 1 from pg_roles where rolname = {_literal(name)}
                        and (rolsuper or rolbypassrls or rolcreaterole or rolcreatedb or not rolcanlogin)) then
            alter role {_ident(name)} login nosuperuser nobypassrls nocreaterole nocreatedb;
          end if;
        end
        $do$
        """
    )
    if password:
        op.execute(f"alter role {_ident(name)} password {_literal(password)}")


def downgrade() -> None:
    if not _is_postgres():
        return
    roles = _role_names()
    op.execute("drop trigger if exists snippet_versions_append_only on public.snippet_versions")
    for policy in POLICIES:
        op.execute(f"drop policy if exists {policy.name} on public.{policy.table}")
    for table in TABLES:
        op.execute(f"alter table public.{table} no force row level security")
        op.execute(f"alter table public.{table} disable row level security")
    # Only our functions live in app, and nothing depends on them once the policies are gone.
    op.execute("drop schema if exists app cascade")
    for role in roles.values():
        op.execute(
            f"""
            do $do$
            begin
              if exists (select 1 from pg_roles where rolname = {_literal(role)}) then
                revoke all on all tables in schema public from {_ident(role)};
                revoke all on all sequences in schema public from {_ident(role)};
                revoke all on schema public from {_ident(role)};
                execute format('revoke all on database %I from %I', current_database(), {_literal(role)});
                drop owned by {_ident(role)};
                drop role {_ident(role)};
              end if;
            end
            $do$
            """
        )
