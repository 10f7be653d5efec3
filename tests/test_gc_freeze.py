"""The serve commands freeze what startup built, so that full collections skip it (shared/gc_freeze.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import gc, sys, uvicorn
def fake_run(app, **kwargs):  # where uvicorn would start serving: report what is frozen by then
    print(gc.get_freeze_count(), type(app).__name__)
uvicorn.run = fake_run
sys.argv = ["%s", "serve"]
from %s import main
main()
"""


def _frozen_when_serving(tmp_path: Path, command: str, module: str) -> tuple[int, str]:
    env = {"SKILLS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (command, module)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    count, app = done.stdout.split()
    return int(count), app


def test_the_mcp_server_serves_with_its_startup_objects_frozen(tmp_path: Path) -> None:
    count, app = _frozen_when_serving(tmp_path, "mcpserver", "mcpserver.cli")
    assert app == "Starlette" and count > 10_000


def test_the_authorization_server_serves_with_its_startup_objects_frozen(tmp_path: Path) -> None:
    count, app = _frozen_when_serving(tmp_path, "authserver", "authserver.cli")
    assert app == "Starlette" and count > 10_000
