"""Logs never hold bodies, passwords, codes, tokens or secrets (security.md), even at DEBUG.

Both servers run as real processes at ``SKILLS_LOG_LEVEL=DEBUG``. The real MCP client signs in
through the real login and consent pages, saves snippets with distinctive bodies, renders them
with distinctive values and fails a few calls on purpose (validation errors echo their input);
the token is refreshed and revoked; a confidential client registers, reads and updates its
registration and revokes with its secret; a person fails a sign-in, signs in to the account page
and changes the password. Then every secret the run used is looked for in both servers' logs.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.browser import FormBrowser, Redirect, forms_of
from tests.conftest import Database
from tests.stack import MemoryTokenStorage, SignIn, Stack, oauth_http_client, running_stack

MARK = secrets.token_hex(6)
BODY = f"Body-{MARK}-alpha: greet {{{{customer}}}} warmly"
UPDATED_BODY = f"Body-{MARK}-beta: thank {{{{customer}}}}"
VALUE = f"Value-{MARK}-gamma"
FILE_TEXT = f"File-{MARK}-delta"
WRONG_PASSWORD = f"wrong-{MARK}-password"
NEW_PASSWORD = f"new-{MARK}-battery staple"


SERVERS = ("authserver", "mcpserver")


class RecordingBrowser(FormBrowser):
    """A form browser that remembers the secrets it handles: CSRF tokens, request handles, cookies."""

    def __init__(self, issuer: str, seen: set[str]) -> None:
        super().__init__(issuer)
        self.seen = seen

    def _follow(self, response: httpx.Response) -> httpx.Response | Redirect:
        result = super()._follow(response)
        self.seen.update(v for v in self.http.cookies.values() if v)
        if isinstance(result, httpx.Response):
            for form in forms_of(result.text):
                self.seen.update(v for k, v in form.fields.items() if k in ("csrf_token", "request") and v)
        return result


class RecordingSignIn(SignIn):
    def __init__(self, stack: Stack, seen: set[str]) -> None:
        super().__init__(stack)
        self.seen = seen

    async def redirect_handler(self, url: str) -> None:
        browser = RecordingBrowser(self.stack.issuer, self.seen)
        try:
            result = await anyio.to_thread.run_sync(
                lambda: browser.authorize(url, email=self.stack.email, password=self.stack.password)
            )
        finally:
            browser.close()
        self.redirect = result.params
        self.seen.update((result.params["code"], result.params["state"]))


@pytest.fixture
def stack(database: Database) -> Iterator[Stack]:
    with running_stack(database, extra_env={"SKILLS_LOG_LEVEL": "DEBUG"}) as running:
        yield running


async def use_the_library(stack: Stack, seen: set[str]) -> dict[str, Any]:
    storage = MemoryTokenStorage()
    sign_in = RecordingSignIn(stack, seen)
    async with oauth_http_client(stack, sign_in, storage) as http:
        async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]

            async def ok(tool: str, **arguments: Any) -> dict[str, Any]:
                result = await client.call_tool(tool, arguments)
                assert not result.is_error, (tool, result.content)
                return result.structured_content or {}

            workspace = (await ok("create_workspace", name="Logged"))["id"]
            snippet = await ok("save_snippet", workspace_id=workspace, title="Greeting", body=BODY)
            await ok("save_snippet", id=snippet["id"], body=UPDATED_BODY, expected_version=1)
            await ok("get_snippet", id=snippet["id"])
            rendered = await ok("render_snippet", id=snippet["id"], variables={"customer": VALUE})
            assert VALUE in str(rendered)
            await ok("add_skill_file", id=snippet["id"], path="references/notes.md", content=FILE_TEXT)
            await client.read_resource(f"snippet://{snippet['id']}")
            # Refusals echo what was sent in many libraries: none of it may reach the log.
            for tool, arguments in (
                ("save_snippet", {"workspace_id": workspace, "title": BODY * 20, "body": BODY}),
                ("save_snippet", {"id": snippet["id"], "body": UPDATED_BODY, "expected_version": 1}),
                ("render_snippet", {"id": snippet["id"], "variables": {"customer": VALUE * 6000}}),
                ("render_snippet", {"id": snippet["id"], "variables": VALUE}),
            ):
                assert (await client.call_tool(tool, arguments)).is_error
    assert storage.tokens is not None and storage.client_info is not None
    seen.update(t for t in (storage.tokens.access_token, storage.tokens.refresh_token) if t)
    return {"client_id": storage.client_info.client_id, "refresh_token": storage.tokens.refresh_token}


def refresh_and_revoke(stack: Stack, client_id: str, refresh_token: str, seen: set[str]) -> None:
    with httpx.Client(base_url=stack.issuer, timeout=10) as http:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
        refreshed = http.post("/token", data=form).json()
        assert "access_token" in refreshed, refreshed
        seen.update((refreshed["access_token"], refreshed["refresh_token"]))
        revoked = http.post("/revoke", data={"token": refreshed["refresh_token"], "client_id": client_id})
        assert revoked.status_code == 200


def confidential_client(stack: Stack, seen: set[str]) -> None:
    with httpx.Client(base_url=stack.issuer, timeout=10) as http:
        metadata = {
            "client_name": f"Confidential {MARK}",
            "redirect_uris": ["http://127.0.0.1:9/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        registered = http.post("/register", json=metadata).json()
        secret, access = registered["client_secret"], registered["registration_access_token"]
        seen.update((secret, access))
        configuration = {"Authorization": f"Bearer {access}"}
        assert http.get(f"/register/{registered['client_id']}", headers=configuration).status_code == 200
        updated = http.put(
            f"/register/{registered['client_id']}",
            headers=configuration,
            json={**metadata, "client_id": registered["client_id"], "client_name": "Renamed"},
        )
        assert updated.status_code == 200, updated.text
        basic = (registered["client_id"], secret)
        assert http.post("/revoke", data={"token": f"unknown-{MARK}"}, auth=basic).status_code == 200
        assert http.post("/revoke", data={"token": "x"}, auth=(registered["client_id"], f"bad-{MARK}")).status_code
        seen.add(f"bad-{MARK}")


def change_the_password(stack: Stack, seen: set[str]) -> None:
    browser = RecordingBrowser(stack.issuer, seen)
    try:
        login = browser._follow(browser.http.get(f"{stack.issuer}/login"))
        assert isinstance(login, httpx.Response)
        refused = browser._submit(login, {"email": stack.email, "password": WRONG_PASSWORD})
        assert isinstance(refused, httpx.Response) and refused.status_code == 400
        account = browser._submit(refused, {"email": stack.email, "password": stack.password})
        assert isinstance(account, httpx.Response) and account.url.path == "/account", account
        form = next(f for f in forms_of(account.text) if f.action.endswith("/account/password"))
        changed = browser._follow(
            browser.http.post(
                f"{stack.issuer}/account/password",
                data={**form.fields, "current_password": stack.password, "new_password": NEW_PASSWORD},
            )
        )
        assert isinstance(changed, httpx.Response) and "done=password" in str(changed.url), changed
    finally:
        browser.close()


def distinctive_parts(secret: str) -> set[str]:
    """The secret, and pieces of it that would give it away: each part of a JWT but its header, and
    every 16-character stretch of an opaque secret (taken every 8 characters)."""
    if secret.count(".") == 2 and secret.startswith("eyJ"):
        return set(secret.split(".")[1:]) | {secret}
    if len(secret) <= 24:
        return {secret}
    return {secret[i : i + 16] for i in range(0, len(secret) - 15, 8)} | {secret}


async def test_no_secret_the_run_used_reaches_either_log(stack: Stack, database: Database) -> None:
    seen: set[str] = {stack.password, WRONG_PASSWORD, NEW_PASSWORD, VALUE, FILE_TEXT, f"Body-{MARK}"}
    used = await use_the_library(stack, seen)
    refresh_and_revoke(stack, used["client_id"], used["refresh_token"], seen)
    confidential_client(stack, seen)
    change_the_password(stack, seen)

    logs = {
        name: (database.data_dir / f"{name}.log").read_text(errors="replace") for name in ("authserver", "mcpserver")
    }
    # The logs are not empty at DEBUG: the calls and requests are there, with their request ids.
    assert '"msg": "mcp.call"' in logs["mcpserver"]
    assert re.search(r'POST /token HTTP/1.1\\" 200", "request_id"', logs["authserver"]), logs["authserver"][-2000:]
    assert len(seen) >= 12, seen
    leaks = [
        (name, part, line[:300])
        for secret in seen
        for part in distinctive_parts(secret)
        for name, text in logs.items()
        for line in text.splitlines()
        if part in line
    ]
    assert not leaks, leaks
