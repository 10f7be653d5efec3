"""A real loopback redirect listener, as native MCP clients (Claude Code) run one.

It accepts the browser's redirect on a random port, hands ``code``, ``state`` and ``iss``
(or ``error``) to the waiting client, and answers the browser with a small page.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit


class LoopbackListener:
    def __init__(self, host: str = "localhost", path: str = "/callback") -> None:
        self.host = host
        self.path = path
        self.port = 0
        self._server: asyncio.Server | None = None
        self.result: asyncio.Future[dict[str, str]] | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    async def __aenter__(self) -> LoopbackListener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self.result = asyncio.get_running_loop().create_future()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def reset(self) -> None:
        self.result = asyncio.get_running_loop().create_future()

    async def wait(self, timeout: float = 30) -> dict[str, str]:
        assert self.result is not None
        return await asyncio.wait_for(asyncio.shield(self.result), timeout)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1")
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.split(" ")
            target = urlsplit(parts[1]) if len(parts) > 1 else urlsplit("/")
            if target.path == self.path and self.result is not None and not self.result.done():
                self.result.set_result({k: v[0] for k, v in parse_qs(target.query).items()})
                body = b"<!doctype html><title>Signed in</title><p>You can close this window."
                status = b"200 OK"
            else:
                body, status = b"not found", b"404 Not Found"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\nContent-Type: text/html\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        finally:
            writer.close()
