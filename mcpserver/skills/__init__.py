"""The library as Agent Skills over MCP: the ``io.modelcontextprotocol/skills`` extension (SEP-2640).

Every snippet the caller can read is a skill at ``skill://<workspace>/<name>/SKILL.md``,
with its supporting files beside it. ``extension`` wires the extension into the server,
``catalog`` answers its questions from the repository, ``documents`` renders a snippet's
``SKILL.md``, ``uris`` and ``paths`` hold the naming rules, ``media_types`` the file types.
"""
