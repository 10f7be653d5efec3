"""The Postgres backstop, with the repository layer bypassed: plain SQL as each runtime role.

The MCP server's repository decides what a caller may see; these tests show that the
database still confines a connection of the MCP role to what the user named in
``app.user_id`` may see when a query above it is wrong, that the auth role cannot read
snippets, and that the catalogue stays that way (a new table without RLS fails here).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import psycopg
import pytest
from psycopg import errors

from shared import schema
from shared.models import Base
from tests.conftest import Database

pytestmark = pytest.mark.postgres

# Tables the MCP role may select from at all (users only by column).
MCP_TABLES = (
    "users",
    "workspaces",
    "workspace_members",
    "invitations",
    "snippets",
    "snippet_versions",
    "rate_limits",
    "audit_events",
    "grant_revocations",
)
# Tables only the authorization server may touch.
AUTH_ONLY_TABLES = (
    "oauth_clients",
    "authorization_requests",
    "authorization_codes",
    "refresh_tokens",
    "consents",
    "signing_keys",
    "browser_sessions",
    "login_throttle",
)
# (creator, workspace, visibility); each snippet is known as "<creator>_<visibility>".
SNIPPETS = (
    ("alice", "a", "private"),
    ("alice", "a", "workspace"),
    ("alice", "a", "public"),
    ("carol", "a", "private"),
    ("carol", "a", "workspace"),
    ("bob", "b", "private"),
    ("bob", "b", "workspace"),
    ("bob", "b", "public"),
)
INSERT_SNIPPET = (
    "insert into snippets (id, workspace_id, created_by, slug, title, description, body, tags, visibility,"
    " variables, version, updated_at, created_at)"
    " values (%s, %s, %s, %s, 'Title', '', 'the body', '[]', %s, '[]', 1, now(), now())"
)
INSERT_VERSION = (
    "insert into snippet_versions (snippet_id, version, workspace_id, title, description, body, tags, visibility,"
    " variables, author_id, message, created_at)"
    " values (%s, %s, %s, 'Title', '', 'the body', '[]', 'workspace', '[]', %s, '', now())"
)
INSERT_MEMBER = "insert into workspace_members (workspace_id, user_id, role, created_at) values (%s, %s, %s, now())"
INSERT_WORKSPACE = "insert into workspaces (id, name, slug, created_by, created_at) values (%s, %s, %s, %s, now())"
INSERT_INVITATION = (
    "insert into invitations (id, workspace_id, email, role, invited_by, created_at)"
    " values (gen_random_uuid(), %s, %s, 'member', %s, now())"
)
INSERT_REVOCATION = "insert into grant_revocations (user_id, client_id, not_before) values (%s, %s, now())"
INSERT_AUDIT = "insert into audit_events (at, action, actor_user_id, details) values (now(), 'test', %s, '{}')"


@contextmanager
def _transaction(url: str, user: uuid.UUID | None = None) -> Iterator[psycopg.Connection]:
    """A connection in one transaction, acting for ``user`` exactly as the MCP server does.

    Rolled back at the end unless the test committed.
    """
    with psycopg.connect(url) as conn:
        if user is not None:
            conn.execute("select set_config('app.user_id', %s, true)", (str(user),))
        try:
            yield conn
        finally:
            conn.rollback()


@contextmanager
def refused(conn: psycopg.Connection, match: str = "row-level security") -> Iterator[None]:
    """The statement inside fails (by RLS unless ``match`` says otherwise); the transaction goes on."""
    with pytest.raises(errors.InsufficientPrivilege, match=match), conn.transaction():
        yield


def ids(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> set[uuid.UUID]:
    return {row[0] for row in conn.execute(sql, params)}


def count(conn: psycopg.Connection, sql: str, params: tuple[object, ...] = ()) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


@dataclass
class World:
    """Two teams. Alice owns workspace a with member Carol; Bob owns workspace b; Dave has none."""

    db: Database
    users: dict[str, uuid.UUID] = field(default_factory=dict)
    workspaces: dict[str, uuid.UUID] = field(default_factory=dict)
    snippets: dict[str, uuid.UUID] = field(default_factory=dict)

    def admin(self) -> AbstractContextManager[psycopg.Connection]:
        return _transaction(self.db.admin_url)

    def mcp(self, user: str | None) -> AbstractContextManager[psycopg.Connection]:
        return _transaction(self.db.env["SKILLS_MCP_DATABASE_URL"], self.users[user] if user else None)

    def auth(self) -> AbstractContextManager[psycopg.Connection]:
        return _transaction(self.db.env["SKILLS_AUTH_DATABASE_URL"])

    def snippet_ids(self, *names: str) -> set[uuid.UUID]:
        return {self.snippets[name] for name in names}


@pytest.fixture
def migrated(postgres_database: Database) -> Database:
    schema.upgrade(postgres_database.settings())
    return postgres_database


@pytest.fixture
def world(migrated: Database) -> World:
    """The two teams, inserted by the admin (the roles under test could not insert them)."""
    w = World(migrated)
    w.users = {name: uuid.uuid4() for name in ("alice", "bob", "carol", "dave")}
    w.workspaces = {"a": uuid.uuid4(), "b": uuid.uuid4()}
    with w.admin() as conn:
        for name, uid in w.users.items():
            conn.execute(
                "insert into users (id, email, name, password_hash, updated_at, created_at)"
                " values (%s, %s, %s, %s, now(), now())",
                (uid, f"{name}@example.com", name.title(), f"argon2-hash-of-{name}"),
            )
        for key, owner in (("a", "alice"), ("b", "bob")):
            conn.execute(INSERT_WORKSPACE, (w.workspaces[key], key, f"ws-{key}", w.users[owner]))
            conn.execute(INSERT_MEMBER, (w.workspaces[key], w.users[owner], "owner"))
            conn.execute(INSERT_INVITATION, (w.workspaces[key], f"friend-of-{owner}@example.com", w.users[owner]))
            conn.execute(INSERT_AUDIT, (w.users[owner],))
            conn.execute(
                "insert into rate_limits (user_id, bucket, window_start, count) values (%s, 'save', now(), 1)",
                (w.users[owner],),
            )
            conn.execute(INSERT_REVOCATION, (w.users[owner], "client-1"))
        conn.execute(INSERT_MEMBER, (w.workspaces["a"], w.users["carol"], "member"))
        for creator, key, visibility in SNIPPETS:
            sid = w.snippets[f"{creator}_{visibility}"] = uuid.uuid4()
            conn.execute(
                INSERT_SNIPPET, (sid, w.workspaces[key], w.users[creator], f"{creator}-{visibility}", visibility)
            )
            conn.execute(INSERT_VERSION, (sid, 1, w.workspaces[key], w.users[creator]))
        alice = w.users["alice"]
        conn.execute(
            "insert into oauth_clients (client_id, client_secret_hash, source, client_metadata, created_at)"
            " values ('client-1', 'secret-hash', 'dcr', '{}', now())"
        )
        conn.execute(
            "insert into authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, resource,"
            " code_challenge, code_challenge_method, expires_at, family_id, created_at) values ('code-hash',"
            " 'client-1', %s, 'http://127.0.0.1/cb', '', 'r', 'c', 'S256', now(), gen_random_uuid(), now())",
            (alice,),
        )
        conn.execute(
            "insert into refresh_tokens (id, token_hash, family_id, client_id, user_id, scope, resource, expires_at,"
            " family_expires_at, created_at) values (gen_random_uuid(), 'token-hash', gen_random_uuid(), 'client-1',"
            " %s, '', 'r', now(), now(), now())",
            (alice,),
        )
        conn.execute(
            "insert into consents (id, user_id, client_id, resource, scope, created_at)"
            " values (gen_random_uuid(), %s, 'client-1', 'r', '', now())",
            (alice,),
        )
        conn.execute(
            "insert into authorization_requests (id_hash, client_id, params, expires_at, created_at)"
            " values ('request-hash', 'client-1', '{}', now(), now())"
        )
        conn.execute(
            "insert into signing_keys (kid, alg, public_jwk, private_key_encrypted, state, created_at)"
            " values ('k1', 'RS256', '{}', 'encrypted', 'active', now())"
        )
        conn.execute(
            "insert into browser_sessions (id_hash, user_id, csrf_token, expires_at, last_seen_at, created_at)"
            " values ('session-hash', %s, 'csrf', now(), now(), now())",
            (alice,),
        )
        conn.execute("insert into login_throttle (key, window_start, failures) values ('addr:127.0.0.1', now(), 1)")
        conn.commit()
    return w


# --- tenant isolation -----------------------------------------------------------------


def test_other_workspace_is_invisible(world: World) -> None:
    a, users = world.workspaces["a"], world.users
    with world.mcp("alice") as conn:
        assert ids(conn, "select id from workspaces") == {a}
        assert ids(conn, "select workspace_id from workspace_members") == {a}
        assert ids(conn, "select user_id from workspace_members") == {users["alice"], users["carol"]}
        assert ids(conn, "select workspace_id from invitations") == {a}
        assert ids(conn, "select id from users") == {users["alice"], users["carol"]}
        # Of workspace b, only what b made public to every signed-in user.
        readable = world.snippet_ids(
            "alice_private", "alice_workspace", "alice_public", "carol_workspace", "bob_public"
        )
        assert ids(conn, "select id from snippets") == readable
        assert ids(conn, "select snippet_id from snippet_versions") == readable


def test_writes_into_other_workspace_fail(world: World) -> None:
    b, alice = world.workspaces["b"], world.users["alice"]
    with world.mcp("alice") as conn:
        with refused(conn):
            conn.execute(INSERT_SNIPPET, (uuid.uuid4(), b, alice, "intruder", "workspace"))
        with refused(conn):
            conn.execute(INSERT_MEMBER, (b, alice, "member"))
        with refused(conn):
            conn.execute(INSERT_MEMBER, (b, alice, "owner"))
        with refused(conn):
            conn.execute(INSERT_INVITATION, (b, "accomplice@example.com", alice))
        with refused(conn):  # visible, but not hers to change
            conn.execute(INSERT_VERSION, (world.snippets["bob_public"], 2, b, alice))
        with refused(conn):  # nor may she move her own snippet there
            conn.execute("update snippets set workspace_id = %s where id = %s", (b, world.snippets["alice_workspace"]))
        for snippet in ("bob_private", "bob_workspace", "bob_public"):
            sid = world.snippets[snippet]
            assert conn.execute("update snippets set body = 'pwned' where id = %s", (sid,)).rowcount == 0
            assert conn.execute("delete from snippets where id = %s", (sid,)).rowcount == 0
        assert conn.execute("update workspaces set name = 'pwned' where id = %s", (b,)).rowcount == 0
        assert conn.execute("delete from workspaces where id = %s", (b,)).rowcount == 0
        assert conn.execute("delete from workspace_members where workspace_id = %s", (b,)).rowcount == 0
        assert conn.execute("delete from invitations where workspace_id = %s", (b,)).rowcount == 0


def test_without_user_setting_nothing_is_visible(world: World) -> None:
    with world.admin() as conn:
        assert all(count(conn, f"select count(*) from {table}") > 0 for table in MCP_TABLES)
    with world.mcp(None) as conn:
        for table in MCP_TABLES:
            assert count(conn, f"select count(*) from {table}") == 0, table
        with refused(conn):
            conn.execute(INSERT_WORKSPACE, (uuid.uuid4(), "w", "w", None))
        assert conn.execute("select app.user_id_for_email('bob@example.com')").fetchone() == (None,)

    # On a pooled connection, a transaction-local setting reads back as '' once its
    # transaction has ended: that must still mean nobody, not an error and not everybody.
    with psycopg.connect(world.db.env["SKILLS_MCP_DATABASE_URL"]) as conn:
        conn.execute("select set_config('app.user_id', %s, true)", (str(world.users["alice"]),))
        assert count(conn, "select count(*) from snippets") > 0
        conn.commit()
        assert conn.execute("select current_setting('app.user_id', true)").fetchone() == ("",)
        for table in MCP_TABLES:
            assert count(conn, f"select count(*) from {table}") == 0, table


# --- snippets -------------------------------------------------------------------------


def test_snippet_visibility(world: World) -> None:
    expected = {
        "alice": world.snippet_ids("alice_private", "alice_workspace", "alice_public", "carol_workspace", "bob_public"),
        # A member reads the workspace's shared snippets and her own private ones, not the owner's.
        "carol": world.snippet_ids("carol_private", "carol_workspace", "alice_workspace", "alice_public", "bob_public"),
        "bob": world.snippet_ids("bob_private", "bob_workspace", "bob_public", "alice_public"),
        # Public means every signed-in user, member or not.
        "dave": world.snippet_ids("alice_public", "bob_public"),
    }
    for user, readable in expected.items():
        with world.mcp(user) as conn:
            assert ids(conn, "select id from snippets") == readable, user
            assert ids(conn, "select snippet_id from snippet_versions") == readable, user


def test_snippet_writers(world: World) -> None:
    """Creators change their own snippets; owners change shared ones, never a member's private one."""
    writable = {
        "alice": world.snippet_ids("alice_private", "alice_workspace", "alice_public", "carol_workspace"),
        "carol": world.snippet_ids("carol_private", "carol_workspace"),
        "dave": set(),
    }
    for user, allowed in writable.items():
        with world.mcp(user) as conn:
            # Statements that read no column meet only the UPDATE and DELETE policies
            # (a WHERE clause on a column brings in the SELECT policy as well).
            with conn.transaction(force_rollback=True):
                assert conn.execute("update snippets set title = 'new'").rowcount == len(allowed), user
            with conn.transaction(force_rollback=True):
                assert conn.execute("delete from snippets").rowcount == len(allowed), user
            for name, sid in world.snippets.items():
                expected = 1 if sid in allowed else 0
                assert conn.execute("update snippets set title = 'new' where id = %s", (sid,)).rowcount == expected
                with conn.transaction(force_rollback=True):
                    assert conn.execute("delete from snippets where id = %s", (sid,)).rowcount == expected, name


def test_snippet_creation(world: World) -> None:
    a, b, users = world.workspaces["a"], world.workspaces["b"], world.users
    with world.mcp("carol") as conn:
        new = uuid.uuid4()
        conn.execute(INSERT_SNIPPET, (new, a, users["carol"], "mine", "private"))
        conn.execute(INSERT_VERSION, (new, 1, a, users["carol"]))
        conn.execute(INSERT_VERSION, (world.snippets["carol_workspace"], 2, a, users["carol"]))
        with refused(conn):  # only as herself
            conn.execute(INSERT_SNIPPET, (uuid.uuid4(), a, users["alice"], "forged", "workspace"))
        with refused(conn):  # a version of someone else's snippet
            conn.execute(INSERT_VERSION, (world.snippets["alice_workspace"], 2, a, users["carol"]))
        with refused(conn):  # a version filed under another workspace than its snippet's
            conn.execute(INSERT_VERSION, (world.snippets["carol_workspace"], 3, b, users["carol"]))
    with world.mcp("dave") as conn, refused(conn):  # only members create snippets
        conn.execute(INSERT_SNIPPET, (uuid.uuid4(), a, users["dave"], "outsider", "public"))


def test_snippet_versions_are_append_only(world: World) -> None:
    sid = world.snippets["alice_workspace"]
    with world.mcp("alice") as conn:
        with refused(conn, "permission denied"):
            conn.execute("update snippet_versions set body = 'rewritten' where snippet_id = %s", (sid,))
        with refused(conn, "permission denied"):
            conn.execute("delete from snippet_versions where snippet_id = %s", (sid,))
    # Not even the owner of the tables, for whom no grant or policy is in the way.
    with world.admin() as conn:
        with refused(conn, "append-only"):
            conn.execute("update snippet_versions set body = 'rewritten' where snippet_id = %s", (sid,))
        with refused(conn, "append-only"):
            conn.execute("delete from snippet_versions where snippet_id = %s", (sid,))


def test_snippet_versions_follow_their_parents(world: World) -> None:
    """The append-only trigger lets the cascades through: deleting a snippet, a workspace or an author."""
    snippet, workspace = world.snippets["alice_workspace"], world.workspaces["b"]
    with world.mcp("alice") as conn:
        assert conn.execute("delete from snippets where id = %s", (snippet,)).rowcount == 1
        conn.commit()
    with world.admin() as conn:
        assert count(conn, "select count(*) from snippet_versions where snippet_id = %s", (snippet,)) == 0
        conn.execute("delete from workspaces where id = %s", (workspace,))
        assert count(conn, "select count(*) from snippet_versions where workspace_id = %s", (workspace,)) == 0
        conn.execute("delete from users where id = %s", (world.users["carol"],))
        assert count(conn, "select count(*) from snippet_versions where author_id is null") == 2
        conn.commit()


# --- workspaces, members, invitations -------------------------------------------------


def test_workspace_membership_rules(world: World) -> None:
    users, ws = world.users, uuid.uuid4()
    promote = "update workspace_members set role = 'owner' where workspace_id = %s and user_id = %s"
    remove = "delete from workspace_members where workspace_id = %s and user_id = %s"
    with world.mcp("dave") as conn:
        with refused(conn):  # a workspace is created as oneself
            conn.execute(INSERT_WORKSPACE, (ws, "c", "ws-c", users["alice"]))
        conn.execute(INSERT_WORKSPACE, (ws, "c", "ws-c", users["dave"]))
        conn.execute(INSERT_MEMBER, (ws, users["dave"], "owner"))  # its first owner
        conn.execute(INSERT_MEMBER, (ws, users["bob"], "member"))
        conn.commit()
    with world.mcp("bob") as conn:
        assert ws in ids(conn, "select id from workspaces")
        with refused(conn):  # members do not add members, promote themselves or remove others
            conn.execute(INSERT_MEMBER, (ws, users["carol"], "member"))
        assert conn.execute(promote, (ws, users["bob"])).rowcount == 0
        assert conn.execute(remove, (ws, users["dave"])).rowcount == 0
        assert conn.execute("update workspaces set name = 'mine' where id = %s", (ws,)).rowcount == 0
    with world.mcp("dave") as conn:
        assert conn.execute(promote, (ws, users["bob"])).rowcount == 1
        assert conn.execute(remove, (ws, users["dave"])).rowcount == 1  # anyone may leave
        conn.commit()
    with world.mcp("dave") as conn, refused(conn):  # the creator cannot claim it back once it has members
        conn.execute(INSERT_MEMBER, (ws, users["dave"], "owner"))
    with world.mcp("bob") as conn:
        assert conn.execute("update workspaces set name = 'mine' where id = %s", (ws,)).rowcount == 1
        assert conn.execute("delete from workspaces where id = %s", (ws,)).rowcount == 1


def test_invitations_belong_to_owners(world: World) -> None:
    a, b, users = world.workspaces["a"], world.workspaces["b"], world.users
    with world.mcp("carol") as conn:
        assert ids(conn, "select id from invitations") == set()
        with refused(conn):
            conn.execute(INSERT_INVITATION, (a, "friend-of-carol@example.com", users["carol"]))
    with world.mcp("alice") as conn:
        conn.execute(INSERT_INVITATION, (a, "another@example.com", users["alice"]))
        assert ids(conn, "select workspace_id from invitations") == {a}
        with refused(conn):
            conn.execute(INSERT_INVITATION, (b, "another@example.com", users["alice"]))
        # The one lookup by email, for turning an invitation into a membership.
        assert conn.execute("select app.user_id_for_email('Bob@Example.COM')").fetchone() == (users["bob"],)
        assert conn.execute("select app.user_id_for_email('nobody@example.com')").fetchone() == (None,)


# --- operational tables ---------------------------------------------------------------


def test_rate_limits_are_per_user(world: World) -> None:
    alice, bob = world.users["alice"], world.users["bob"]
    insert = "insert into rate_limits (user_id, bucket, window_start, count) values (%s, 'other', now(), 1)"
    with world.mcp("alice") as conn:
        assert ids(conn, "select user_id from rate_limits") == {alice}
        conn.execute(insert, (alice,))
        with refused(conn):
            conn.execute(insert, (bob,))
        assert conn.execute("update rate_limits set count = 0 where user_id = %s", (bob,)).rowcount == 0


def test_rate_limit_counts_of_everybody_only_grow(world: World) -> None:
    """The write-behind's door to other users' counters (``app.count_calls``) only adds calls."""
    bob = world.users["bob"]
    add = "select user_id, count from app.count_calls(%s, %s, array[date_trunc('minute', now())], %s)"
    with world.mcp("alice") as conn:
        assert conn.execute(add, ([bob], ["read"], [3])).fetchall() == [(bob, 3)]
        assert conn.execute(add, ([bob], ["read"], [2])).fetchall() == [(bob, 5)]
        assert conn.execute(add, ([bob], ["read"], [-5])).fetchall() == []  # never taken away
        assert conn.execute(add, ([bob], ["read"], [0])).fetchall() == []
        assert conn.execute(add, ([uuid.uuid4()], ["read"], [1])).fetchall() == []  # no such user: skipped
        assert ids(conn, "select user_id from rate_limits where bucket = 'read'") == set()  # bob's row stays hidden
        conn.execute("select set_config('app.user_id', %s, true)", (str(bob),))  # same transaction, as bob
        assert conn.execute("select count from rate_limits where bucket = 'read'").fetchall() == [(5,)]


def test_audit_events_are_write_only(world: World) -> None:
    alice, bob = world.users["alice"], world.users["bob"]
    with world.mcp("alice") as conn:
        conn.execute(INSERT_AUDIT, (alice,))
        assert count(conn, "select count(*) from audit_events") == 0  # not even her own
        with refused(conn):
            conn.execute(INSERT_AUDIT, (bob,))
        # No SELECT policy, so INSERT … RETURNING is refused too: the MCP server inserts
        # audit events without RETURNING (a Core insert, not an ORM flush).
        with refused(conn):
            conn.execute(INSERT_AUDIT + " returning id", (alice,))


def test_grant_revocations_are_read_by_their_user_only(world: World) -> None:
    alice, bob = world.users["alice"], world.users["bob"]
    with world.mcp("alice") as conn:
        assert ids(conn, "select user_id from grant_revocations") == {alice}
        with refused(conn, "permission denied"):  # written only by the authorization server
            conn.execute(INSERT_REVOCATION, (alice, "client-2"))
    with world.auth() as conn:
        conn.execute(INSERT_REVOCATION, (bob, "client-2"))
        assert count(conn, "select count(*) from grant_revocations") == 3


def test_new_account_joins_the_workspaces_it_was_invited_to(world: World) -> None:
    """The trigger turns pending invitations into memberships, whoever creates the account."""
    a, b = world.workspaces["a"], world.workspaces["b"]
    with world.mcp("bob") as conn:  # Bob also invites Alice's friend
        conn.execute(INSERT_INVITATION, (b, "friend-of-alice@example.com", world.users["bob"]))
        conn.commit()
    newcomer = uuid.uuid4()
    with world.auth() as conn:
        conn.execute(
            "insert into users (id, email, name, updated_at, created_at) values (%s, %s, 'Eve', now(), now())",
            (newcomer, "friend-of-alice@example.com"),
        )
        conn.commit()
    with world.admin() as conn:
        rows = conn.execute("select workspace_id, role from workspace_members where user_id = %s", (newcomer,))
        assert set(rows) == {(a, "member"), (b, "member")}
        pending = "select count(*) from invitations where email = %s and accepted_at is null"
        assert count(conn, pending, ("friend-of-alice@example.com",)) == 0
        assert count(conn, pending, ("friend-of-bob@example.com",)) == 1


# --- what each role may read at all ---------------------------------------------------


def test_mcp_role_cannot_read_secrets(world: World) -> None:
    with world.mcp("alice") as conn:
        row = conn.execute(
            "select id, name, disabled_at, tokens_valid_after from users where id = %s", (world.users["alice"],)
        ).fetchone()
        assert row is not None and row[1] == "Alice"
        secrets = ["select email from users", "select password_hash from users", "select * from users"]
        for sql in secrets + [f"select * from {table}" for table in AUTH_ONLY_TABLES]:
            with refused(conn, "permission denied"):
                conn.execute(sql)


def test_auth_role_cannot_read_snippets(world: World) -> None:
    with world.auth() as conn:
        for table in ("snippets", "snippet_versions"):
            with refused(conn, "permission denied"):
                conn.execute(f"select * from {table}")
        with refused(conn, "permission denied"):
            conn.execute("delete from workspaces")
        with refused(conn, "permission denied"):  # the MCP server's helper is not the auth server's
            conn.execute("select app.user_id_for_email('bob@example.com')")
        # What it does need: accounts, and turning invitations into memberships.
        assert count(conn, "select count(*) from users where password_hash is not null") == 4
        assert count(conn, "select count(*) from refresh_tokens") == 1
        conn.execute(INSERT_MEMBER, (world.workspaces["b"], world.users["dave"], "member"))
        assert conn.execute("update invitations set accepted_at = now()").rowcount == 2


# --- the catalogue --------------------------------------------------------------------


def _unprotected_tables(conn: psycopg.Connection) -> list[str]:
    """Tables of schema public without RLS enabled, forced, and at least one policy."""
    rows = conn.execute(
        """
        select c.relname from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
          and c.relname <> 'alembic_version'
          and not (c.relrowsecurity and c.relforcerowsecurity
                   and exists (select 1 from pg_policy p where p.polrelid = c.oid))
        order by 1
        """
    )
    return [row[0] for row in rows]


def test_every_table_has_forced_rls_and_a_policy(migrated: Database) -> None:
    with _transaction(migrated.admin_url) as conn:
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
        assert tables == {*Base.metadata.tables, "alembic_version"}
        assert _unprotected_tables(conn) == []

        # The check catches a table added without RLS, or with RLS that its owner bypasses.
        conn.execute("create table public.added_later (id int)")
        assert _unprotected_tables(conn) == ["added_later"]
        conn.execute("alter table public.added_later enable row level security")
        conn.execute("create policy everyone on public.added_later using (true)")
        assert _unprotected_tables(conn) == ["added_later"]
        conn.execute("alter table public.added_later force row level security")
        assert _unprotected_tables(conn) == []


def test_runtime_roles_are_powerless(migrated: Database) -> None:
    settings = migrated.settings()
    roles = [settings.db_mcp_role, settings.db_auth_role]
    with _transaction(migrated.admin_url) as conn:
        attributes = conn.execute(
            "select rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
            " from pg_roles where rolname = any(%s) order by rolname",
            (roles,),
        ).fetchall()
        assert attributes == [(role, True, False, False, False, False) for role in sorted(roles)]
        # Own nothing (an owner could disable RLS or drop policies), anywhere in the cluster.
        owned = (
            "select count(*) from pg_shdepend d join pg_roles r on r.oid = d.refobjid"
            " where r.rolname = any(%s) and d.deptype = 'o'"
        )
        assert count(conn, owned, (roles,)) == 0
        # TRUNCATE ignores RLS; REFERENCES and TRIGGER are not theirs to have either.
        extra = conn.execute(
            """
            select c.relname, r.role, p.privilege from pg_class c
              cross join unnest(%s::text[]) as r(role)
              cross join unnest(array['TRUNCATE', 'REFERENCES', 'TRIGGER']) as p(privilege)
            where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
              and has_table_privilege(r.role, c.oid, p.privilege)
            """,
            (roles,),
        ).fetchall()
        assert extra == []


def test_app_functions_are_not_public(migrated: Database) -> None:
    settings = migrated.settings()
    with _transaction(migrated.admin_url) as conn:
        rows = conn.execute(
            """
            select p.oid::regprocedure::text, p.prosecdef, p.proconfig,
                   exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                           where a.grantee = 0 and a.privilege_type = 'EXECUTE'),
                   has_function_privilege(%s, p.oid, 'EXECUTE'),
                   has_function_privilege(%s, p.oid, 'EXECUTE')
            from pg_proc p where p.pronamespace = 'app'::regnamespace
            """,
            (settings.db_mcp_role, settings.db_auth_role),
        ).fetchall()
    functions = {row[0]: row[1:] for row in rows}
    helpers = {
        "app.current_user_id()",
        "app.is_workspace_member(uuid)",
        "app.is_workspace_owner(uuid)",
        "app.my_workspaces()",
        "app.can_claim_workspace(uuid)",
        "app.user_id_for_email(text)",
        "app.web_session_user(text)",
        "app.count_calls(uuid[],text[],timestamp with time zone[],integer[])",
    }
    triggers = {"app.snippet_versions_append_only()", "app.join_invited_workspaces()"}
    assert set(functions) == helpers | triggers
    for name, (definer, config, public, mcp, auth) in functions.items():
        assert not public, f"{name} is executable by PUBLIC"
        assert mcp == (name in helpers), name
        assert not auth, name
        if definer:  # a definer function must not resolve names through the caller's search_path
            assert config == ["search_path=pg_catalog, public"], name
    assert functions["app.current_user_id()"][0] is False  # reads the caller's setting, with the caller's rights
