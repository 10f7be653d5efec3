"""Row-level security of ``web_sessions`` (migration 0006) on Postgres, with the repository bypassed.

The MCP role reads, changes and deletes only the sessions of the user it acts for; with no
user set it sees none; ``app.web_session_user`` answers whose session a hash is, and nothing
else; the authorization server's role has no access at all.
"""

from __future__ import annotations

import hashlib
import uuid

import psycopg
import pytest
from psycopg import errors

from tests.test_rls import World, count, migrated, world  # noqa: F401 (fixtures)

INSERT_SESSION = (
    "insert into web_sessions (id_hash, user_id, client_id, scopes, csrf_token, token_issued_at, last_seen_at,"
    " expires_at, created_at) values (%s, %s, 'shared-skills-web', '', 'csrf', now(), now(),"
    " now() + interval '1 hour', now())"
)


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def sessions(world: World) -> World:  # noqa: F811
    with world.admin() as conn:
        for name in ("alice", "bob"):
            conn.execute(INSERT_SESSION, (_hash(name), world.users[name]))
        conn.commit()
    return world


def test_a_user_sees_and_changes_only_their_own_sessions(sessions: World) -> None:
    with sessions.mcp("alice") as conn:
        rows = conn.execute("select user_id from web_sessions").fetchall()
        assert [r[0] for r in rows] == [sessions.users["alice"]]
        assert conn.execute("update web_sessions set scopes = 'x'").rowcount == 1
        assert conn.execute("delete from web_sessions where id_hash = %s", (_hash("bob"),)).rowcount == 0
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(INSERT_SESSION, (_hash("forged"), sessions.users["bob"]))


def test_without_a_user_no_session_is_visible(sessions: World) -> None:
    with sessions.mcp(None) as conn:
        assert count(conn, "select count(*) from web_sessions") == 0


def test_the_owner_lookup_answers_only_whose_hash_it_is(sessions: World) -> None:
    with sessions.mcp(None) as conn:
        owner = conn.execute("select app.web_session_user(%s)", (_hash("bob"),)).fetchone()
        assert owner is not None and owner[0] == sessions.users["bob"]
        unknown = conn.execute("select app.web_session_user(%s)", (_hash("nobody"),)).fetchone()
        assert unknown is not None and unknown[0] is None


def test_the_auth_role_cannot_touch_web_sessions(sessions: World) -> None:
    with sessions.auth() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from web_sessions")
    with sessions.auth() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select app.web_session_user(%s)", (_hash(str(uuid.uuid4())),))
