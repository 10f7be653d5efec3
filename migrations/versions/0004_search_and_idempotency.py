"""Full-text search over snippets, and the idempotency keys of ``save_snippet``.

Search, on each database:

- Postgres: a stored generated ``tsvector`` column ``snippets.search`` (English
  configuration; title weight A, tags B, description and body C) with a GIN index.
  Under row-level security the planner may only use an index for a condition whose
  operator is LEAKPROOF (else it could evaluate it on rows the policy hides), and
  ``tsvector @@ tsquery`` (``ts_match_vq``) is not marked so: every search would read the
  whole table. It only answers true or false and raises no error that depends on the row,
  so this revision marks it LEAKPROOF in this database (superuser only; a BYPASSRLS
  migrating role gets a warning and searches still work, by sequential scan). pg_dump does
  not carry the mark: a restored database needs ``alter function
  pg_catalog.ts_match_vq(tsvector, tsquery) leakproof`` again (``mcpserver`` logs a
  warning at start when it is missing).
- SQLite: an FTS5 table (porter stemmer) holding title, tags, description and body,
  filled and kept in sync by triggers on ``snippets``. Its rowids come from
  ``snippets_fts_rows`` (an INTEGER PRIMARY KEY, which VACUUM keeps), because the rowids of
  ``snippets`` itself may change on VACUUM.

Neither is in the ORM models (``shared.models.maintained_by_migrations``): only the
search queries of ``mcpserver.repository.search`` use them.

``idempotency_keys``: one row per (user, key), read and written only by that user
(RLS forced, MCP role only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from shared.settings import Settings

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ME = "(select app.current_user_id())"

POSTGRES_SEARCH = """
alter table public.snippets add column search tsvector generated always as (
    setweight(to_tsvector('english'::regconfig, title), 'A')
    || setweight(jsonb_to_tsvector('english'::regconfig, tags, '["string"]'), 'B')
    || setweight(to_tsvector('english'::regconfig, description || ' ' || body), 'C')
) stored;
create index ix_snippets_search on public.snippets using gin (search);
"""

LEAKPROOF = """
do $do$
begin
  if exists (select 1 from pg_roles where rolname = current_user and rolsuper) then
    alter function pg_catalog.ts_match_vq(tsvector, tsquery) {mark};
  else
    raise warning 'not a superuser: ts_match_vq stays as it is, and full-text search under row-level '
      'security reads the whole snippets table instead of its GIN index';
  end if;
end
$do$
"""

SQLITE_SEARCH = (
    "create table snippets_fts_rows (id integer primary key, snippet_id char(32) not null unique)",
    "create virtual table snippets_fts using fts5("
    "title, tags, description, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    """
    create trigger snippets_fts_insert after insert on snippets
    begin
      insert into snippets_fts_rows (snippet_id) values (new.id);
      insert into snippets_fts (rowid, title, tags, description, body)
        values ((select id from snippets_fts_rows where snippet_id = new.id),
                new.title, new.tags, new.description, new.body);
    end
    """,
    """
    create trigger snippets_fts_update after update of title, tags, description, body on snippets
    begin
      update snippets_fts set title = new.title, tags = new.tags, description = new.description, body = new.body
        where rowid = (select id from snippets_fts_rows where snippet_id = old.id);
    end
    """,
    """
    create trigger snippets_fts_delete after delete on snippets
    begin
      delete from snippets_fts where rowid = (select id from snippets_fts_rows where snippet_id = old.id);
      delete from snippets_fts_rows where snippet_id = old.id;
    end
    """,
    "insert into snippets_fts_rows (snippet_id) select id from snippets",
    "insert into snippets_fts (rowid, title, tags, description, body)"
    " select r.id, s.title, s.tags, s.description, s.body"
    " from snippets s join snippets_fts_rows r on r.snippet_id = s.id",
)


def _mcp_role() -> str:
    settings: Settings = context.config.attributes["settings"]
    return op.get_context().dialect.identifier_preparer.quote_identifier(settings.db_mcp_role)


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("snippet_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_idempotency_keys_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
    )
    if op.get_context().dialect.name != "postgresql":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
        return

    op.execute(POSTGRES_SEARCH)
    op.execute(LEAKPROOF.format(mark="leakproof"))
    mcp = _mcp_role()
    op.execute(f"grant select, insert, update, delete on public.idempotency_keys to {mcp}")
    op.execute("alter table public.idempotency_keys enable row level security")
    op.execute("alter table public.idempotency_keys force row level security")
    op.execute(
        f"create policy mcp_all on public.idempotency_keys for all to {mcp}"
        f" using (user_id = {ME}) with check (user_id = {ME})"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("drop policy if exists mcp_all on public.idempotency_keys")
        op.execute(LEAKPROOF.format(mark="not leakproof"))
        op.execute("drop index if exists public.ix_snippets_search")
        op.execute("alter table public.snippets drop column if exists search")
    else:
        for trigger in ("snippets_fts_insert", "snippets_fts_update", "snippets_fts_delete"):
            op.execute(f"drop trigger if exists {trigger}")
        op.execute("drop table if exists snippets_fts")
        op.execute("drop table if exists snippets_fts_rows")
    op.drop_table("idempotency_keys")
