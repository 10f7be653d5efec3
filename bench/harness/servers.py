"""The servers of one run, started the way production starts them, each on a free port.

Ours run through their console entry points (``authserver serve``, ``mcpserver serve``:
uvicorn, one worker, production logging with access logs), each connecting to Postgres as its
own role. The baselines run on the same uvicorn (a, b) or Node 20 (d); nginx only shows how
far the load generator reaches.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from harness.procs import Server, free_port

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
NODE_DIR = BENCH / "node"
PAYLOAD = BENCH / "baselines" / "payload.json"

# Not production values: a benchmark drives thousands of calls per second from a few hundred
# users, which the per-user limits (120 reads and 30 writes a minute) would turn into refusals.
BENCH_OVERRIDES = {
    "SKILLS_RATE_LIMIT_READS_PER_MINUTE": "1000000000",
    "SKILLS_RATE_LIMIT_WRITES_PER_MINUTE": "1000000000",
    "SKILLS_LOG_LEVEL": "INFO",
}


def console_script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def ensure_node_modules() -> None:
    """Install the pinned TypeScript SDK (package-lock.json) into bench/node/node_modules if missing."""
    if (NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm is not installed: baseline (d) needs Node 20 and npm (Debian: apt-get install nodejs npm)"
        )
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)  # noqa: S603


def nginx_config(work: Path, port: int) -> Path:
    body = PAYLOAD.read_text().replace("\n", "").replace("'", "")
    conf = work / "nginx" / "nginx.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {conf.parent}/nginx.pid;
error_log {conf.parent}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {conf.parent}/body;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{body}'; }}
  }}
}}
"""
    )
    return conf


def baseline_servers(work: Path, cpus: set[int] | None) -> dict[str, Server]:
    servers: dict[str, Server] = {}
    logs = work / "logs"
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        port = free_port()
        conf = nginx_config(work, port)
        servers["nginx"] = Server(
            "nginx", [nginx, "-c", str(conf), "-p", str(conf.parent)], "",
            logs / "nginx.log", url=f"http://127.0.0.1:{port}/mcp", cpus=cpus,
        )  # fmt: skip
    for name, script in (("bare", "bare_starlette.py"), ("sdk", "sdk_minimal.py")):
        port = free_port()
        servers[name] = Server(
            name, [sys.executable, str(BENCH / "baselines" / script), "--port", str(port)],
            "", logs / f"{name}.log", url=f"http://127.0.0.1:{port}/mcp", cpus=cpus, cwd=ROOT,
        )  # fmt: skip
    node = shutil.which("node")
    if node:
        port = free_port()
        servers["node"] = Server(
            "node", [node, str(NODE_DIR / "server.mjs"), "--port", str(port)], "",
            logs / "node.log", url=f"http://127.0.0.1:{port}/mcp", cpus=cpus, cwd=NODE_DIR,
        )  # fmt: skip
    return servers


def our_servers(work: Path, database_env: dict[str, str], cpus: set[int] | None) -> dict[str, Server]:
    auth_port, mcp_port = free_port(), free_port()
    issuer, resource = f"http://127.0.0.1:{auth_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    env = {
        **database_env,
        **BENCH_OVERRIDES,
        "SKILLS_ISSUER_URL": issuer,
        "SKILLS_RESOURCE_URL": resource,
        "SKILLS_AUTH_PORT": str(auth_port),
        "SKILLS_MCP_PORT": str(mcp_port),
    }
    logs = work / "logs"
    return {
        "auth": Server(
            "authserver", [console_script("authserver"), "serve"], f"{issuer}/healthz", logs / "authserver.log",
            url=issuer, env=env, cpus=cpus, cwd=ROOT,
        ),
        "mcp": Server(
            "mcpserver", [console_script("mcpserver"), "serve"], f"http://127.0.0.1:{mcp_port}/healthz",
            logs / "mcpserver.log", url=resource, env=env, cpus=cpus, cwd=ROOT,
        ),
    }  # fmt: skip
