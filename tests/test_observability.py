"""Observability of the running product: the audit trail and the Prometheus metrics.

Both servers run as real processes (``authserver serve``, ``mcpserver serve``) with their
metrics ports on; a real MCP client signs in and calls tools, one sign-in fails. Then the
operator reads ``authserver audit`` and Prometheus scrapes both metrics ports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from shared.db import make_engine, session_factory
from shared.models import AuditEvent
from tests.authserver.cli_runner import Cli
from tests.browser import FormBrowser
from tests.conftest import Database
from tests.processes import free_port
from tests.stack import SignIn, Stack, oauth_http_client, running_stack

WRONG_PASSWORD = "not-the-password-9f2c"
TYPED_EMAIL = "  Ada@Example.COM "


@pytest.fixture(scope="module")
def metrics_ports() -> tuple[int, int]:
    return free_port(), free_port()


@pytest.fixture
def stack(database: Database, metrics_ports: tuple[int, int]) -> Iterator[Stack]:
    auth_metrics, mcp_metrics = metrics_ports
    env = {"SKILLS_AUTH_METRICS_PORT": str(auth_metrics), "SKILLS_MCP_METRICS_PORT": str(mcp_metrics)}
    with running_stack(database, extra_env=env) as running:
        yield running


def fail_a_sign_in(stack: Stack) -> None:
    browser = FormBrowser(stack.issuer)
    try:
        page = browser.http.get(f"{stack.issuer}/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text[:500]
        form = {"email": TYPED_EMAIL, "password": WRONG_PASSWORD, "csrf_token": csrf[1]}
        refused = browser.http.post(f"{stack.issuer}/login", data=form)
        assert refused.status_code == 400
    finally:
        browser.close()


async def use_the_library(stack: Stack) -> None:
    async with oauth_http_client(stack, SignIn(stack)) as http:
        async with Client(streamable_http_client(stack.resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
            created = await client.call_tool("create_workspace", {"name": "Observed"})
            assert not created.is_error, created.content
            assert not (await client.call_tool("list_workspaces", {})).is_error
            missing = await client.call_tool("get_snippet", {"id": "00000000-0000-0000-0000-000000000000"})
            assert missing.is_error
    httpx.post(stack.resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})  # no token


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` on ``127.0.0.1:port``, by name and labels."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))


async def test_operator_reads_the_audit_trail_and_scrapes_both_servers(
    stack: Stack, database: Database, metrics_ports: tuple[int, int]
) -> None:
    fail_a_sign_in(stack)
    await use_the_library(stack)

    # The audit trail, through the entry point.
    cli = Cli(stack.env)
    events = cli.json("audit")
    actions = [e["action"] for e in events]
    for expected in ("user.add", "key.create", "login.failed", "client.register", "login.succeeded"):
        assert expected in actions, actions
    assert "consent.grant" in actions and "workspace.create" in actions, actions
    assert events == sorted(events, key=lambda e: e["at"], reverse=True)
    failed = next(e for e in events if e["action"] == "login.failed")
    assert failed["target"] == "ada@example.com" and failed["address"] == "127.0.0.1"
    only = cli.json("audit", "--action", "login.succeeded", "--user", "ADA@example.com", "--since", "1h")
    assert [e["action"] for e in only] == ["login.succeeded"]
    assert cli.json("audit", "--limit", "2") == events[:2]
    table = cli("audit", "--since", "2000-01-01")
    assert table.returncode == 0 and "login.failed" in table.stdout, table.stderr
    assert cli.json("audit", "--since", "2999-01-01T00:00:00+00:00") == []
    bad = cli("audit", "--since", "yesterday")
    assert bad.returncode == 1 and "--since" in bad.stderr

    # No secrets in the trail: not the password typed, nor any code or token.
    engine = make_engine(database.admin_url)
    with session_factory(engine)() as db:
        stored = json.dumps([[r.action, r.target, r.client_id, r.details] for r in db.scalars(select(AuditEvent))])
    engine.dispose()
    for secret in (WRONG_PASSWORD, stack.password, "code=", "eyJ"):
        assert secret not in stored

    # The metrics: on their own loopback port, never on the public one.
    auth_metrics, mcp_metrics = metrics_ports
    assert httpx.get(f"{stack.issuer}/metrics").status_code == 404
    assert httpx.get(f"{stack.issuer}/wp-login.php").status_code == 404
    assert httpx.get(stack.resource.removesuffix("/mcp") + "/metrics").status_code == 404
    auth = scrape(auth_metrics)
    assert value(auth, "skills_logins_total", outcome="failed") == 1
    assert value(auth, "skills_logins_total", outcome="succeeded") == 1
    assert value(auth, "skills_auth_failures_total", server="authserver", reason="invalid_credentials") == 1
    assert value(auth, "skills_tokens_issued_total", grant="authorization_code") == 1
    assert value(auth, "skills_client_registrations_total", kind="dynamic") == 1
    assert value(auth, "skills_http_requests_total", server="authserver", route="/token", status="200") == 1
    assert value(auth, "skills_http_requests_total", route="other", status="404") == 2  # /metrics, /wp-login.php
    assert not [key for key in auth if ("route", "/wp-login.php") in key[1]]
    assert value(auth, "skills_http_requests_total", route="/register/{client_id}") == 0
    assert value(auth, "skills_http_request_duration_seconds_count", server="authserver", route="/login") >= 2
    assert ("skills_db_pool_in_use", (("server", "authserver"),)) in auth

    mcp = scrape(mcp_metrics)
    assert value(mcp, "skills_tool_calls_total", tool="create_workspace", outcome="ok") == 1
    assert value(mcp, "skills_tool_calls_total", tool="get_snippet", outcome="not_found") == 1
    assert value(mcp, "skills_auth_failures_total", server="mcpserver", reason="missing_token") >= 1
    assert value(mcp, "skills_http_requests_total", server="mcpserver", route="/mcp", status="200") >= 2
    assert value(mcp, "skills_http_requests_total", server="mcpserver", route="/mcp", status="401") >= 1
    assert ("skills_db_pool_in_use", (("server", "mcpserver"),)) in mcp
