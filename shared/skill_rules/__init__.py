"""The rules a skill's supporting files follow, free of the MCP SDK.

Shared by the server (:mod:`mcpserver.skills`), ``sync-skills``, export/import and the
``files`` command: ``paths`` (what a file may be called), ``limits`` (how many and how
large), ``media_types`` (a file's type from its name).
"""
