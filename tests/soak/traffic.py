"""The simulated users of the soak test: sign in, refresh, read and save over real HTTP.

Every request is recorded with its outcome kind (``ok``, ``http_503``, ``tool_unavailable``,
``connect_error``, ``timeout``, …) so the test can assert on the whole run afterwards.
The client balances MCP requests over the MCP servers that are up, as a load balancer
with health checks would, and goes to another one when a connection is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from tests.browser import forms_of

REDIRECT_URI = "http://127.0.0.1:1/callback"
SCOPE = "snippets:read snippets:write workspaces:write offline_access"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Mcp-Protocol-Version": "2025-11-25"}
CLIENT_TIMEOUT = 20.0
"""Seconds a client waits for any answer; the servers' own request timeout is shorter, so this firing is a failure."""

TRANSIENT = {"http_503", "tool_unavailable", "jsonrpc_unavailable", "connect_error", "dropped"}
"""Outcomes after which a client retries (a save with the same idempotency key)."""


@dataclass
class Attempt:
    started: float
    ended: float
    user: str
    op: str
    server: str
    kind: str
    detail: str = ""
    token_at: float = 0.0  # when the access token used was issued (MCP calls)


@dataclass
class Recorder:
    attempts: list[Attempt] = field(default_factory=list)
    bodies_with_traceback: list[str] = field(default_factory=list)

    def add(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def kinds(self) -> Counter[str]:
        return Counter(a.kind for a in self.attempts)

    def check_body(self, text: str) -> None:
        if "Traceback" in text or 'File "' in text:
            self.bodies_with_traceback.append(text[:500])


@dataclass
class Save:
    """One intended save: acknowledged with (snippet id, version) or not."""

    user: str
    marker: str
    key: str
    snippet_id: str | None = None
    version: int | None = None


@dataclass
class Topology:
    """Where the servers are, as the load balancer sees them."""

    issuer: str
    resource: str
    auth: dict[str, str]  # name -> base URL
    mcp: dict[str, str]  # name -> base URL
    mcp_up: set[str] = field(default_factory=set)


@dataclass
class User:
    name: str
    email: str
    password: str
    client_id: str = ""
    access: str = ""
    refresh: str = ""
    token_from: str = ""
    token_at: float = 0.0
    disabled: bool = False
    snippets: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    seq: int = 0


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class Traffic:
    def __init__(self, topology: Topology, recorder: Recorder, http: httpx.AsyncClient) -> None:
        self.cluster = topology
        self.recorder = recorder
        self.http = http
        self.saves: list[Save] = []
        self.known_snippets: list[str] = []
        self.pairs: Counter[tuple[str, str]] = Counter()  # (token's AS, MCP server) of successful calls

    # -- the authorization server ------------------------------------------------------------

    async def _auth(
        self,
        user: User,
        op: str,
        server: str,
        method: str,
        url: str,
        client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await (client or self.http).request(method, url, **kwargs)
        except httpx.TimeoutException:
            self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, "timeout"))
            return None
        except httpx.TransportError as exc:
            self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, "dropped", repr(exc)))
            return None
        self.recorder.check_body(response.text)
        kind = _http_kind(response)
        self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, kind, response.text[:200]))
        return response

    def _on(self, base: str, url: str) -> str:
        """``url`` (which the AS writes with the issuer's origin) on the AS at ``base``."""
        return base + url.removeprefix(self.cluster.issuer) if url.startswith(self.cluster.issuer) else url

    async def register(self, user: User) -> bool:
        server, base = random.choice(list(self.cluster.auth.items()))
        metadata = {
            "client_name": f"soak {user.name}",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": SCOPE,
        }
        response = await self._auth(user, "register", server, "POST", f"{base}/register", json=metadata)
        if response is None or response.status_code != 201:
            return False
        user.client_id = response.json()["client_id"]
        return True

    async def login(self, user: User, server: str | None = None) -> str:
        """The authorization code flow with PKCE through one AS: "ok", "refused" or a transient kind."""
        server = server or random.choice(list(self.cluster.auth))
        base = self.cluster.auth[server]
        verifier, challenge = _pkce()
        query = {
            "response_type": "code",
            "client_id": user.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": secrets.token_urlsafe(8),
            "scope": SCOPE,
            "resource": self.cluster.resource,
        }
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT, follow_redirects=False) as browser:  # its own cookies
            return await self._sign_in(user, server, base, browser, f"{base}/authorize?{urlencode(query)}", verifier)

    async def _sign_in(
        self, user: User, server: str, base: str, browser: httpx.AsyncClient, url: str, verifier: str
    ) -> str:
        response = await self._auth(user, "login", server, "GET", url, browser)
        for _ in range(6):
            if response is None or response.status_code >= 500:
                return "transient"
            if response.is_redirect:
                target = self._on(base, urljoin(str(response.url), response.headers["location"]))
                if target.startswith(REDIRECT_URI):
                    params = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
                    if "code" not in params:
                        return "refused"
                    return await self._exchange(user, server, params["code"], verifier)
                response = await self._auth(user, "login", server, "GET", target, browser)
                continue
            forms = forms_of(response.text)
            if not forms:
                return "refused"  # an error page: a disabled account cannot sign in
            form = forms[0]
            fields = dict(form.fields)
            if "password" in fields:
                fields.update(email=user.email, password=user.password)
            elif any(name == "decision" for name, _ in form.buttons):
                fields["decision"] = "allow"
            else:
                return "refused"
            action = self._on(base, urljoin(str(response.url), form.action))
            response = await self._auth(user, "login", server, "POST", action, browser, data=fields)
        return "refused"

    async def _exchange(self, user: User, server: str, code: str, verifier: str) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": user.client_id,
            "code_verifier": verifier,
            "resource": self.cluster.resource,
        }
        return await self._token(user, server, form, "login")

    async def refresh_tokens(self, user: User) -> str:
        server = random.choice(list(self.cluster.auth))
        form = {
            "grant_type": "refresh_token",
            "refresh_token": user.refresh,
            "client_id": user.client_id,
            "resource": self.cluster.resource,
        }
        return await self._token(user, server, form, "refresh")

    async def _token(self, user: User, server: str, form: dict[str, str], op: str) -> str:
        base = self.cluster.auth[server]
        response = await self._auth(user, op, server, "POST", f"{base}/token", data=form)
        if response is None or response.status_code >= 500:
            return "transient"
        if response.status_code != 200:
            return "refused"
        tokens = response.json()
        user.access, user.refresh, user.token_from = tokens["access_token"], tokens["refresh_token"], server
        user.token_at = time.monotonic()
        return "ok"

    # -- the MCP servers ---------------------------------------------------------------------

    async def call(
        self, user: User, op: str, tool: str, arguments: dict[str, Any], server: str | None = None
    ) -> tuple[str, Any]:
        """One tools/call on ``server`` or one that is up: (outcome kind, structured result or text)."""
        server = server or random.choice(sorted(self.cluster.mcp_up) or sorted(self.cluster.mcp))
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {user.access}"}
        token_from, token_at = user.token_from, user.token_at
        started = time.monotonic()
        try:
            response = await self.http.post(f"{self.cluster.mcp[server]}/mcp", json=body, headers=headers)
        except httpx.TimeoutException:
            self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, "timeout"))
            return "timeout", None
        except httpx.ConnectError:
            self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, "connect_error"))
            return "connect_error", None
        except httpx.TransportError as exc:
            self.recorder.add(Attempt(started, time.monotonic(), user.name, op, server, "dropped", repr(exc)))
            return "dropped", None
        self.recorder.check_body(response.text)
        kind, payload = _mcp_kind(response)
        self.recorder.add(
            Attempt(started, time.monotonic(), user.name, op, server, kind, response.text[:300], token_at)
        )
        if kind == "ok":
            self.pairs[(token_from, server)] += 1
        return kind, payload

    async def call_with_retries(
        self, user: User, op: str, tool: str, arguments: dict[str, Any], *, attempts: int = 30
    ) -> tuple[str, Any]:
        """Retry transient failures (the same arguments, so a save keeps its idempotency key);
        refresh (or sign in again) on 401."""
        kind, payload = "unknown", None
        for _ in range(attempts):
            kind, payload = await self.call(user, op, tool, arguments)
            if kind == "unauthorized" and not user.disabled:
                if await self.refresh_tokens(user) != "ok":
                    await self.login(user)
                continue
            if kind not in TRANSIENT:
                return kind, payload
            await asyncio.sleep(0.05 if kind == "connect_error" else 0.5)
        return kind, payload


def _http_kind(response: httpx.Response) -> str:
    if response.status_code == 503:
        if "retry-after" not in response.headers:
            return "http_503_without_retry_after"
        return "http_503"
    if response.status_code >= 500:
        return f"http_{response.status_code}"
    if response.status_code == 401:
        return "unauthorized"
    if response.status_code >= 400:
        return f"http_{response.status_code}"
    return "ok"


def _mcp_kind(response: httpx.Response) -> tuple[str, Any]:
    kind = _http_kind(response)
    if kind != "ok":
        return kind, response.text
    try:
        message = json.loads(response.text)
    except ValueError:
        return "bad_json", response.text
    if "error" in message:
        code = message["error"].get("code")
        return ("jsonrpc_unavailable" if code == -32030 else f"jsonrpc_{code}"), message["error"]
    result = message.get("result", {})
    if result.get("isError"):
        text = result["content"][0]["text"] if result.get("content") else ""
        text = text.split(": ", 1)[-1] if text.startswith("Error executing tool ") else text
        if text.startswith("unavailable:"):
            return "tool_unavailable", text
        return "tool_error:" + text.split(":", 1)[0], text
    return "ok", result.get("structuredContent")
