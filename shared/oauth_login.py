"""Signing a command-line client in through the server's own OAuth flow, as native apps do.

The official ``mcp`` client's ``OAuthClientProvider`` does the protocol: it meets the MCP
server's 401, discovers the authorization server, registers (DCR), and runs the
authorization code flow with PKCE and the ``resource`` parameter. This module supplies the
parts a terminal program needs around it (RFC 8252): a loopback listener on a random port
that receives the browser's redirect, the browser itself (``webbrowser.open``; the URL is
printed too, for machines without one), and a provider that remembers across runs when
its access token expires, so it refreshes instead of sending the user back to the browser.
"""

from __future__ import annotations

import asyncio
import html
import sys
import webbrowser
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from shared.credentials import CredentialsFile

OpenBrowser = Callable[[str], Awaitable[None]]
CLIENT_NAME = "shared-skills sync-skills"
SIGN_IN_TIMEOUT = 300.0


class LoopbackRedirect:
    """Receives the authorization response on ``http://127.0.0.1:<random port>/callback``.

    Only the first request to the callback path counts; it gets a short page telling the
    user to go back to the terminal. Everything else gets 404.
    """

    PATH = "/callback"

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._result: asyncio.Future[dict[str, str]] | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.PATH}"

    async def __aenter__(self) -> LoopbackRedirect:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def expect(self) -> None:
        """Start waiting for a (new) redirect: call before sending the browser off."""
        self._result = asyncio.get_running_loop().create_future()

    async def wait(self) -> dict[str, str]:
        """The redirect's query parameters (``code``, ``state``, ``iss``, or ``error``)."""
        if self._result is None:
            self.expect()
        assert self._result is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._result), SIGN_IN_TIMEOUT)
        except TimeoutError:
            raise OAuthFlowError(f"no answer from the browser within {SIGN_IN_TIMEOUT:.0f} s") from None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            method, _, rest = request_line.partition(" ")
            target = urlsplit(rest.split(" ", 1)[0])
            waiting = self._result is not None and not self._result.done()
            if method == "GET" and target.path == self.PATH and waiting:
                params = {key: values[0] for key, values in parse_qs(target.query).items()}
                assert self._result is not None
                self._result.set_result(params)
                failed = params.get("error")
                message = (
                    f"Sign-in failed: {html.escape(failed)}. You can close this window."
                    if failed
                    else "Signed in. You can close this window and return to the terminal."
                )
                status, body = "200 OK", f"<!doctype html><title>shared-skills</title><p>{message}"
            else:
                status, body = "404 Not Found", "not found"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def open_system_browser(url: str) -> None:
    """Print the sign-in URL and open it in the user's browser (if there is one)."""
    print(f"Sign in to continue. Opening your browser; if it does not open, visit:\n  {url}", file=sys.stderr)
    sys.stderr.flush()
    await anyio.to_thread.run_sync(webbrowser.open, url)


class RememberingOAuthProvider(OAuthClientProvider):
    """The SDK's provider, plus what it forgets between runs.

    Stored tokens come back without their expiry time and without the authorization
    server's metadata, so on its own the SDK would send an expired token, meet a 401 and
    start a new browser sign-in, or send a refresh to the MCP server's origin. This restores
    both from the credentials file and saves them again after each token response.
    """

    def __init__(self, credentials: CredentialsFile, **kwargs: object) -> None:
        super().__init__(storage=credentials, **kwargs)  # type: ignore[arg-type]
        self.credentials = credentials

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.current_tokens is not None:
            self.context.token_expiry_time = self.credentials.expires_at()
        resource, server = self.credentials.discovery()
        if self.context.protected_resource_metadata is None and resource is not None:
            self.context.protected_resource_metadata = resource
            if resource.authorization_servers:
                self.context.auth_server_url = str(resource.authorization_servers[0])
        if self.context.oauth_metadata is None and server is not None:
            self.context.oauth_metadata = server

    async def _handle_token_response(self, response: httpx2.Response) -> None:
        await super()._handle_token_response(response)
        self.credentials.set_discovery(self.context.protected_resource_metadata, self.context.oauth_metadata)


def signed_in_http_client(
    server_url: str,
    listener: LoopbackRedirect,
    credentials: CredentialsFile,
    open_browser: OpenBrowser = open_system_browser,
) -> httpx2.AsyncClient:
    """An HTTP client for ``server_url`` that signs in (or refreshes) whenever the server asks."""

    async def redirect_handler(authorization_url: str) -> None:
        listener.expect()
        await open_browser(authorization_url)

    async def callback_handler() -> AuthorizationCodeResult:
        params = await listener.wait()
        if "error" in params:
            detail = f" ({params['error_description']})" if params.get("error_description") else ""
            raise OAuthFlowError(f"sign-in was not completed: {params['error']}{detail}")
        if "code" not in params:
            raise OAuthFlowError("the browser came back without an authorization code")
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    provider = RememberingOAuthProvider(
        credentials,
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[listener.redirect_uri],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",  # noqa: S106 (a public client: no secret)
        ),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    return httpx2.AsyncClient(auth=provider, timeout=30)
