"""The repository layer: the only place that queries library data.

One module per area (``workspaces``, ``members``, ``snippets``) plus the ``audit`` trail.
Every function takes the session of the one transaction a call runs in, opened by
``shared.db.user_transaction`` for the calling user: on Postgres it first sets
``app.user_id``, so the RLS policies confine each query even if its own filter were
wrong. The hot reads of ``snippets`` (``list_visible``, ``get``, ``get_by_slug``) also
take an :class:`~mcpserver.repository.asyncpg_reads.AsyncpgReads`: the same statements
in a read-only transaction on the asyncpg connection itself, confined the same way
(``AppContext.reads`` picks). The rules here and in the policies are the same (``architecture.md``); the
permission matrix in ``tests/mcpserver/test_permission_matrix.py`` checks both.
"""
