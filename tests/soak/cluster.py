"""A Postgres cluster of the test's own, so that it may restart and stop it at will.

``initdb`` into a temporary directory, a free loopback port, trust authentication, no
Unix socket; ``pg_ctl`` starts, stops and restarts it. The binaries come from
``/usr/lib/postgresql/<version>/bin`` (Debian's layout) or ``pg_config --bindir``. As
root (CI containers) every command runs as the ``postgres`` user, which Postgres requires.
Without the binaries the tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, Database
from tests.processes import free_port

CONFIGURATION = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
max_connections = 200
"""


def find_bin_dir() -> Path | None:
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates = sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    if pg_config := shutil.which("pg_config"):
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        candidates.append(Path(found))
    return next((path for path in candidates if (path / "initdb").exists() and (path / "pg_ctl").exists()), None)


@dataclass
class Cluster:
    bin_dir: Path
    data: Path
    port: int
    log: Path
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [*self.run_as, str(self.bin_dir / args[0]), *args[1:]]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}\n{self.log_text()}"
        return result

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pg_ctl(self, action: str, *options: str) -> None:
        self.run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", *options)

    def start(self) -> None:
        self.pg_ctl("start", "-o", f"-p {self.port}")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "immediate") -> None:
        """Like a crash and a recovery: ``immediate`` kills the server without a checkpoint."""
        self.pg_ctl("restart", "-m", mode, "-o", f"-p {self.port}")


@contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("no Postgres server binaries (initdb, pg_ctl): CI=true requires the soak test to run")
        pytest.skip("no Postgres server binaries (initdb, pg_ctl) found")
    root = Path(tempfile.mkdtemp(prefix="skills-soak-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # Postgres refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = root / "data"
    cluster = Cluster(bin_dir, data, free_port(), root / "postgres.log", run_as)
    try:
        cluster.run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(CONFIGURATION)
        cluster.start()
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*run_as, str(bin_dir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def cluster_database(cluster: Cluster, data_dir: Path, name: str = "skills") -> Database:
    """A database and the two server roles in ``cluster`` (as conftest's Postgres fixture makes them)."""
    admin = make_url(cluster.url)
    engine = create_engine(admin.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    engine.dispose()
    url = admin.set(database=name)
    env = {
        "SKILLS_DATA_DIR": str(data_dir),
        "SKILLS_DATABASE_URL": url.render_as_string(hide_password=False),
        "SKILLS_DB_AUTH_ROLE": "skills_auth",
        "SKILLS_DB_MCP_ROLE": "skills_mcp",
        "SKILLS_DB_AUTH_PASSWORD": "auth-password",
        "SKILLS_DB_MCP_PASSWORD": "mcp-password",
        "SKILLS_AUTH_DATABASE_URL": url.set(username="skills_auth", password="auth-password").render_as_string(
            hide_password=False
        ),
        "SKILLS_MCP_DATABASE_URL": url.set(username="skills_mcp", password="mcp-password").render_as_string(
            hide_password=False
        ),
    }
    return Database("postgresql", env, data_dir)
