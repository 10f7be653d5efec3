"""`shared-skills up` on a fresh data directory: migrate, first account, both servers, clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.processes import ROOT, free_port
from tests.stack import SignIn, Stack, oauth_http_client


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "shared-skills"), "up"],
        # Only the quickstart's own settings: none of the test runner's SKILLS_* variables.
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SKILLS_")}, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        if "Press Ctrl-C" in line:
            return proc, lines
    raise AssertionError("shared-skills up exited early:\n" + "".join(lines))


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    return proc.wait(timeout=30)


async def test_up_creates_everything_prints_the_password_once_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "data"
    auth_port, mcp_port = free_port(), free_port()
    issuer, resource = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    env = {
        "SKILLS_DATA_DIR": str(data_dir),
        "SKILLS_ISSUER_URL": issuer,
        "SKILLS_RESOURCE_URL": resource,
        "SKILLS_AUTH_PORT": str(auth_port),
        "SKILLS_MCP_PORT": str(mcp_port),
    }

    proc, lines = _start(env)
    try:
        output = "".join(lines)
        password_match = re.search(r"One-time password\s+(\S+)", output)
        assert password_match, output
        password = password_match.group(1)
        assert "admin@localhost" in output
        assert f"claude mcp add --transport http shared-skills {resource}" in output
        assert (data_dir / "skills.db").exists()
        assert (data_dir / "kek").stat().st_mode & 0o777 == 0o600
        assert httpx.get(f"{issuer}/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{mcp_port}/healthz").status_code == 200

        # The printed password signs in through the real flow, and it is stored only as a hash.
        stack = Stack(issuer, resource, env, "admin@localhost", password)
        async with oauth_http_client(stack, SignIn(stack)) as http:
            async with Client(streamable_http_client(resource, http_client=http), mode="legacy") as client:  # type: ignore[arg-type]
                result = await client.call_tool("list_workspaces", {})
                assert not result.is_error, result.content
        for path in data_dir.iterdir():
            assert password.encode() not in path.read_bytes(), path
    finally:
        assert _stop(proc) == 0

    for port in (auth_port, mcp_port):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            raise AssertionError(f"port {port} still answers after Ctrl-C")
        except httpx.ConnectError:
            pass

    # A second run reuses the data: no new account, no password.
    proc, lines = _start(env)
    try:
        assert "One-time password" not in "".join(lines)
    finally:
        assert _stop(proc) == 0
