"""Baseline (a): a bare Starlette JSON endpoint on uvicorn, the ceiling of the Python stack.

``POST /mcp`` answers the same ~1 KB document the MCP baselines return, without parsing the
body, without MCP, auth or database. Started like our servers (uvicorn, one worker, the
server header off), with uvicorn's own access log on::

    python bench/baselines/bare_starlette.py --port 8100
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAYLOAD = json.loads((Path(__file__).resolve().parent / "payload.json").read_text())
BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()


async def endpoint(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/mcp", endpoint, methods=["GET", "POST"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, server_header=False)


if __name__ == "__main__":
    main()
