"""Baseline (b): the ``mcp`` SDK's own minimal stateless server, one tool, no auth, no database.

What a user gets from the Python SDK alone: ``MCPServer`` with one tool returning the same
~1 KB document as our ``list_workspaces`` (structured content plus its JSON text), and a second
tool returning a page the size of our ``list_snippets`` first page (20 summaries, ~6 KB), served
by ``streamable_http_app(stateless_http=True, json_response=True)`` on uvicorn, one worker,
uvicorn's access log on::

    python bench/baselines/sdk_minimal.py --port 8200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer

PAYLOAD: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "payload.json").read_text())
PAGE: dict[str, Any] = json.loads((Path(__file__).resolve().parent / "payload_page.json").read_text())

server = MCPServer(name="sdk-minimal")


@server.tool()
async def list_workspaces() -> dict[str, Any]:
    """List the workspaces you belong to (a fixed document)."""
    return PAYLOAD


@server.tool()
async def list_snippets() -> dict[str, Any]:
    """List snippets (a fixed page of 20 summaries)."""
    return PAGE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, server_header=False)


if __name__ == "__main__":
    main()
