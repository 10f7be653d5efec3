"""The whole product running for a test: migrated database, an account, both servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.browser import FormBrowser
from tests.conftest import Database
from tests.processes import free_port, run_cli, server_process


@dataclass
class Stack:
    issuer: str
    resource: str
    env: dict[str, str]
    email: str
    password: str


@contextmanager
def running_stack(
    database: Database,
    *,
    email: str = "ada@example.com",
    password: str = "correct horse battery",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    auth_port, mcp_port = free_port(), free_port()
    issuer, resource = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    env = {
        **database.env,
        "SKILLS_ISSUER_URL": issuer,
        "SKILLS_RESOURCE_URL": resource,
        "SKILLS_AUTH_PORT": str(auth_port),
        "SKILLS_MCP_PORT": str(mcp_port),
        **(extra_env or {}),
    }
    migrated = run_cli(["authserver", "db", "upgrade"], env)
    assert migrated.returncode == 0, migrated.stderr
    added = run_cli(
        ["authserver", "users", "add", email, "--name", "Ada", "--password-stdin"], env, stdin=password + "\n"
    )
    assert added.returncode == 0, added.stderr
    with ExitStack() as stack:
        stack.enter_context(
            server_process(["authserver", "serve"], env, f"{issuer}/healthz", database.data_dir / "authserver.log")
        )
        stack.enter_context(
            server_process(
                ["mcpserver", "serve"], env, f"http://127.0.0.1:{mcp_port}/healthz", database.data_dir / "mcpserver.log"
            )
        )
        yield Stack(issuer, resource, env, email, password)


class MemoryTokenStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class SignIn:
    """The user's side of the flow: the redirect handler "opens the browser", which signs in."""

    def __init__(self, stack: Stack, *, decision: str = "allow") -> None:
        self.stack = stack
        self.decision = decision
        self.redirect: dict[str, str] | None = None
        self.authorize_urls: list[str] = []

    async def redirect_handler(self, url: str) -> None:
        import anyio

        self.authorize_urls.append(url)
        browser = FormBrowser(self.stack.issuer)
        try:
            result = await anyio.to_thread.run_sync(
                lambda: browser.authorize(
                    url, email=self.stack.email, password=self.stack.password, decision=self.decision
                )
            )
        finally:
            browser.close()
        self.redirect = result.params

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.redirect is not None and "code" in self.redirect, self.redirect
        return AuthorizationCodeResult(
            code=self.redirect["code"], state=self.redirect.get("state"), iss=self.redirect.get("iss")
        )


def oauth_http_client(stack: Stack, sign_in: SignIn, storage: TokenStorage | None = None) -> httpx2.AsyncClient:
    provider = OAuthClientProvider(
        server_url=stack.resource,
        client_metadata=OAuthClientMetadata(
            client_name="shared-skills test client",
            redirect_uris=["http://127.0.0.1:1/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage or MemoryTokenStorage(),
        redirect_handler=sign_in.redirect_handler,
        callback_handler=sign_in.callback_handler,
    )
    return httpx2.AsyncClient(auth=provider, timeout=30)
