"""Export and import of a workspace's snippets: JSON Lines with full history, or Markdown files.

``records`` is the exchange record and its checks, ``jsonl`` and ``markdown`` the two file
formats, ``store`` the database side, ``commands`` the ``shared-skills export|import`` commands.
"""
