"""Run ``authserver`` through its console-script entry point, as an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import ROOT

AUTHSERVER = str(Path(sys.executable).parent / "authserver")


@dataclass
class Cli:
    """The CLI with a fixed environment (only the given ``SKILLS_*`` variables)."""

    env: dict[str, str]

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLS_")}
        env.update(self.env, COLUMNS="200")
        return subprocess.run(
            [AUTHSERVER, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            cwd=ROOT,
            check=False,
        )

    def json(self, *args: str, stdin: str = "") -> Any:
        result = self(*args, "--json", stdin=stdin)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def one_line_error(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The single error line of a failed command (no traceback)."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]
