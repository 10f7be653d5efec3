"""Servers the protocol tests talk to besides the authorization server.

- :class:`DocumentServer`: client ID metadata documents over real TLS on loopback, with a
  test CA (``trustme``) the authorization server is told to trust;
- :func:`resource_server_app`: a stand-in MCP resource server (RFC 9728 metadata, a 401
  challenge, JWT verification through the issuer's JWKS) for the official ``mcp`` client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trustme
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.settings import SCOPES


@dataclass
class ThreadServer:
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_in_thread(app: Any, **config: Any) -> ThreadServer:
    """uvicorn on a socket bound beforehand (no port race), in a daemon thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return ThreadServer(port, server, thread)


@dataclass
class TestCA:
    __test__ = False  # not a test class

    ca_file: Path
    cert_file: Path

    @classmethod
    def create(cls, directory: Path) -> TestCA:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        ca_file, cert_file = directory / "test-ca.pem", directory / "server.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
        return cls(ca_file, cert_file)


@dataclass
class Document:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class DocumentServer:
    """Serves whatever a test puts in :attr:`documents`, over TLS, and counts the fetches."""

    def __init__(self, ca: TestCA) -> None:
        self.documents: dict[str, Document] = {}
        self.fetches: dict[str, int] = {}
        self.running = serve_in_thread(
            Starlette(routes=[Route("/{path:path}", self._serve)]), ssl_certfile=str(ca.cert_file)
        )

    def url(self, path: str, host: str = "localhost") -> str:
        return f"https://{host}:{self.running.port}{path}"

    async def _serve(self, request: Request) -> Response:
        import anyio

        path = request.url.path
        self.fetches[path] = self.fetches.get(path, 0) + 1
        document = self.documents.get(path)
        if document is None:
            return Response(status_code=404)
        if document.delay:
            await anyio.sleep(document.delay)
        return Response(
            document.body,
            status_code=document.status,
            headers={"Content-Type": "application/json", **document.headers},
        )

    def stop(self) -> None:
        self.running.stop()


def resource_server_app(issuer: str, resource: str, jwks: Callable[[], dict[str, Any]]) -> Starlette:
    """An MCP-like resource server: metadata, a challenge without a token, 200 with a valid one."""
    metadata_path = "/.well-known/oauth-protected-resource" + httpx.URL(resource).path
    metadata_url = str(httpx.URL(resource).copy_with(path=metadata_path))
    scope = " ".join(SCOPES)

    async def protected_resource_metadata(request: Request) -> JSONResponse:
        return JSONResponse({"resource": resource, "authorization_servers": [issuer], "scopes_supported": list(SCOPES)})

    async def endpoint(request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(jwks()), algorithms=["RS256", "ES256", "EdDSA"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": resource},
                exp={"essential": True},
            ).validate(decoded.claims)
            if scheme.lower() != "bearer" or decoded.header.get("typ") != "at+jwt":
                raise ValueError("not a bearer access token")
        except Exception:
            challenge = f'Bearer resource_metadata="{metadata_url}", scope="{scope}"'
            return JSONResponse({"error": "invalid_token"}, status_code=401, headers={"WWW-Authenticate": challenge})
        return JSONResponse({"sub": decoded.claims["sub"], "client_id": decoded.claims["client_id"]})

    return Starlette(
        routes=[
            Route(metadata_path, protected_resource_metadata),
            Route("/.well-known/oauth-protected-resource", protected_resource_metadata),
            Route(httpx.URL(resource).path, endpoint, methods=["GET", "POST"]),
        ]
    )
