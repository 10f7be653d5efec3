"""The repository layer: the only place that queries library data.

Every function takes the session of a transaction opened by
``shared.db.user_transaction`` for the calling user, so on Postgres the RLS policies
confine each query even if its own filter were wrong.
"""
