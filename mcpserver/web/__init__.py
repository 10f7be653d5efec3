"""The web library: the snippet library in the browser, served by the MCP server under ``web_path``.

It is a confidential OAuth client of our own authorization server with a server-side
session (:mod:`mcpserver.web.signin`, :mod:`mcpserver.web.session`), and reaches the data
only through the repository layer as the signed-in user, so permissions and RLS apply
exactly as they do to MCP tools. There is no side door into the library.
"""
