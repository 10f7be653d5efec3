"""A loopback HTTPS server for client ID metadata documents, with its own test CA (``trustme``).

The ``mcp`` client accepts only an ``https`` URL with a path as its ``client_metadata_url``, and
the authorization server fetches that URL: the server here answers over TLS with a
certificate for ``localhost`` that the authorization server trusts through
``SKILLS_CIMD_CA_FILE`` (next to ``SKILLS_CIMD_ALLOW_LOOPBACK``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.processes import free_port


@dataclass
class DocumentServer:
    """Documents by path; ``fetches`` counts the GETs each path received."""

    origin: str = ""
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetches: dict[str, int] = field(default_factory=dict)

    def publish(self, path: str, document: dict[str, Any]) -> str:
        """Serve ``document`` at ``path``; returns its URL."""
        self.documents[path] = document
        return self.origin + path


def make_ca(directory: Path) -> tuple[trustme.CA, Path]:
    """A fresh CA and the PEM file of its certificate."""
    ca = trustme.CA()
    ca_file = directory / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, ca_file


@contextmanager
def document_server(ca: trustme.CA, directory: Path) -> Iterator[DocumentServer]:
    server = DocumentServer()

    async def document(request: Request) -> Response:
        path = request.url.path
        server.fetches[path] = server.fetches.get(path, 0) + 1
        if path not in server.documents:
            return Response(status_code=404)
        return JSONResponse(server.documents[path], headers={"Cache-Control": "max-age=300"})

    app = Starlette(routes=[Route("/{path:path}", document)])
    key_and_cert = directory / "localhost.pem"
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(key_and_cert))
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(key_and_cert),
        ssl_keyfile=str(key_and_cert),
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("document server did not start")
        time.sleep(0.02)
    server.origin = f"https://localhost:{port}"
    try:
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
