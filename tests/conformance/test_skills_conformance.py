"""The official MCP conformance suite's SEP-2640 scenarios against the real MCP server.

``@modelcontextprotocol/conformance`` (pinned in ``package.json``, installed with ``npm ci``
in this folder, run on the Node 22 of the npm package ``node``) drives the server through
a loopback proxy that adds a bearer token (:mod:`tests.conformance.bearer_proxy`). The
server is the usual test server (:mod:`tests.mcpserver.harness`) on SQLite with a small
library: two skills, the newest with a supporting file in a folder. Each scenario must
report no failures; its full output is kept in ``tests/conformance/results/``.

Without the npm packages the test is skipped with the command that installs them; under
``CI=true`` it fails instead.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.asgi_server import serve_in_thread
from tests.conformance.bearer_proxy import BearerProxy
from tests.conftest import IN_CI, Database
from tests.mcpserver.harness import McpHarness, call, mcp_harness

HERE = Path(__file__).resolve().parent
NODE = HERE / "node_modules" / ".bin" / "node"
CONFORMANCE = HERE / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
RESULTS = HERE / "results"
SCENARIOS = ("sep-2640-skills-enumeration", "sep-2640-skills-manifest", "sep-2640-skills-directory")


def require_suite() -> None:
    if NODE.exists() and CONFORMANCE.exists():
        return
    reason = "the conformance suite is not installed: run `npm ci` in tests/conformance"
    if IN_CI:
        pytest.fail(f"{reason} (CI=true requires the conformance run)")
    pytest.skip(reason)


async def seed(harness: McpHarness) -> str:
    """A member of one workspace with two skills, the newer one with ``references/checklist.md``."""
    ada = harness.add_user("ada@example.com", "Ada")
    async with harness.client(ada) as client:
        workspace = (await call(client, "create_workspace", name="Platform"))["id"]
        await call(
            client, "save_snippet", workspace_id=workspace, title="Release notes", body="Write the notes: {{version}}."
        )
        review = await call(
            client,
            "save_snippet",
            workspace_id=workspace,
            title="Code review",
            description="Review a pull request with the team's checklist.",
            body="# Code review\n\nRead `references/checklist.md`, then review the diff.\n",
            tags=["review"],
        )
        await call(
            client,
            "add_skill_file",
            id=review["id"],
            path="references/checklist.md",
            content="# Review checklist\n\nCheck correctness, tests, and compatibility.\n",
        )
    return harness.token(ada, scope="snippets:read")


@pytest.fixture(scope="module")
def proxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_suite()
    data_dir = tmp_path_factory.mktemp("conformance")
    database = Database("sqlite", {"SKILLS_DATA_DIR": str(data_dir)}, data_dir)
    with mcp_harness(database) as harness:
        token = asyncio.run(seed(harness))
        with serve_in_thread(BearerProxy(harness.resource.removesuffix("/mcp"), token)) as proxy:
            yield f"{proxy}/mcp"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conformance_scenario_passes(proxy_url: str, scenario: str) -> None:
    output = RESULTS / scenario
    shutil.rmtree(output, ignore_errors=True)  # only this run's checks count
    output.mkdir(parents=True)
    command = [str(NODE), str(CONFORMANCE), "server", "--url", proxy_url, "--scenario", scenario, "-o", str(output)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=HERE)
    (output / "stdout.txt").write_text(run.stdout + run.stderr)
    checks = _checks(output)
    failures = [c for c in checks if c.get("status") == "FAILURE"]
    assert checks, f"no checks reported:\n{run.stdout}\n{run.stderr}"
    assert not failures, json.dumps(failures, indent=2)
    assert run.returncode == 0, run.stdout + run.stderr


def _checks(output: Path) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    for path in sorted(output.rglob("checks.json")):
        found += json.loads(path.read_text())
    return found
