"""Rate-limit counts of many users written by one statement: ``app.count_calls(…)``.

The MCP server counts calls below half a user's limit in memory and writes them behind
(``mcpserver.ratelimit``). Written per user, that was one upsert transaction per user and
second, which with many users each calling about once a second is one transaction per
call: a fifth of the server's CPU under the benchmark's load (issue 7). Written together,
it is one statement per second for everybody. The MCP role's policy on ``rate_limits``
lets a transaction touch only its own user's rows, so the batch goes through this
SECURITY DEFINER function, which can do one thing only: add positive counts to windows
(and, on a window's first write, delete the same user's older windows, as the server did
before). It returns the new totals, which the server decides on.

Postgres only; SQLite has no policies (the server writes the same rows directly).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from collections.abc import Sequence

from alembic import context, op

from shared.settings import Settings

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNT_CALLS = """
create function app.count_calls(p_users uuid[], p_buckets text[], p_windows timestamptz[], p_calls integer[])
returns table (user_id uuid, bucket text, window_start timestamptz, count integer)
language sql volatile security definer set search_path = pg_catalog, public
as $$
  with batch as (
    select n.u, n.b, n.w, n.c from unnest(p_users, p_buckets, p_windows, p_calls) as n(u, b, w, c)
    where n.c > 0 and exists (select 1 from public.users x where x.id = n.u)  -- a deleted user is skipped
  ), added as (
    insert into public.rate_limits as r (user_id, bucket, window_start, count)
    select b.u, b.b, b.w, b.c from batch b
    order by b.u, b.b, b.w  -- rows locked in one order by every writer: no deadlock between replicas
    on conflict (user_id, bucket, window_start) do update set count = r.count + excluded.count
    returning r.user_id, r.bucket, r.window_start, r.count
  ), older as (  -- a window's first write (its total is what was added) clears the user's older ones
    delete from public.rate_limits o using added a, batch b
    where a.user_id = b.u and a.bucket = b.b and a.window_start = b.w and a.count = b.c
      and o.user_id = a.user_id and o.bucket = a.bucket and o.window_start < a.window_start
  )
  select a.user_id, a.bucket, a.window_start, a.count from added a
$$;
comment on function app.count_calls(uuid[], text[], timestamptz[], integer[]) is
  'Adds call counts to rate_limits windows of many users at once; the MCP server''s write-behind.';
revoke all on function app.count_calls(uuid[], text[], timestamptz[], integer[]) from public;
"""


def _mcp_role() -> str:
    settings: Settings = context.config.attributes["settings"]
    return op.get_context().dialect.identifier_preparer.quote_identifier(settings.db_mcp_role)


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(COUNT_CALLS)
    op.execute(f"grant execute on function app.count_calls(uuid[], text[], timestamptz[], integer[]) to {_mcp_role()}")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute("drop function app.count_calls(uuid[], text[], timestamptz[], integer[])")
