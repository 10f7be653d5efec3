"""The Postgres backstop for supporting files: ``snippet_files`` follows its snippet's rules.

Plain SQL as the MCP role, the repository layer bypassed, on the two teams of
``tests/test_rls.py``: a file is visible exactly when its snippet is, and only whoever may
change the snippet adds, changes or removes its files.
"""

from __future__ import annotations

import pytest

from tests.test_rls import World, count, ids, migrated, refused, world  # noqa: F401 (fixtures)

pytestmark = pytest.mark.postgres

INSERT_FILE = (
    "insert into snippet_files (snippet_id, path, content, media_type, sha256, size, updated_at, created_at)"
    " values (%s, %s, 'x', 'text/plain', 'digest', 1, now(), now())"
)


@pytest.fixture
def files(world: World) -> World:  # noqa: F811 (the imported fixture)
    with world.admin() as conn:
        for snippet in world.snippets.values():
            conn.execute(INSERT_FILE, (snippet, "references/a.md"))
        conn.commit()
    return world


def test_files_are_visible_exactly_with_their_snippet(files: World) -> None:
    for user in ("alice", "bob", "carol", "dave"):
        with files.mcp(user) as conn:
            readable = ids(conn, "select id from snippets")
            assert ids(conn, "select snippet_id from snippet_files") == readable, user
    with files.mcp(None) as conn:
        assert count(conn, "select count(*) from snippet_files") == 0


def test_only_writers_of_the_snippet_change_its_files(files: World) -> None:
    with files.mcp("alice") as conn:
        conn.execute(INSERT_FILE, (files.snippets["alice_workspace"], "b.md"))  # her own
        conn.execute(INSERT_FILE, (files.snippets["carol_workspace"], "b.md"))  # an owner, of a shared one
        with refused(conn):
            conn.execute(INSERT_FILE, (files.snippets["bob_public"], "b.md"))  # readable, not hers to change
        for snippet in ("bob_public", "carol_private"):
            sid = files.snippets[snippet]
            assert conn.execute("update snippet_files set size = 2 where snippet_id = %s", (sid,)).rowcount == 0
            assert conn.execute("delete from snippet_files where snippet_id = %s", (sid,)).rowcount == 0
    with files.mcp("carol") as conn:  # a member changes her own snippets' files, not the owner's
        conn.execute(INSERT_FILE, (files.snippets["carol_private"], "b.md"))
        with refused(conn):
            conn.execute(INSERT_FILE, (files.snippets["alice_workspace"], "c.md"))
        sid = files.snippets["alice_workspace"]
        assert conn.execute("delete from snippet_files where snippet_id = %s", (sid,)).rowcount == 0


def test_files_go_with_their_snippet(files: World) -> None:
    snippet = files.snippets["alice_workspace"]
    with files.mcp("alice") as conn:
        conn.execute("delete from snippets where id = %s", (snippet,))
        assert count(conn, "select count(*) from snippet_files where snippet_id = %s", (snippet,)) == 0
