"""compose.yaml and the Dockerfile run only what this project really provides."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.conftest import IN_CI
from tests.processes import ROOT, run_cli

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def _commands() -> list[tuple[str, list[str]]]:
    return [(name, service["command"]) for name, service in COMPOSE["services"].items() if "command" in service]


def test_compose_runs_migrations_and_both_servers() -> None:
    commands = {tuple(cmd) for _, cmd in _commands()}
    assert ("authserver", "db", "upgrade") in commands
    assert ("authserver", "serve") in commands
    assert ("mcpserver", "serve") in commands


@pytest.mark.parametrize(("service", "command"), _commands(), ids=[name for name, _ in _commands()])
def test_every_compose_command_is_an_entry_point_of_this_project(service: str, command: list[str]) -> None:
    assert command[0] in SCRIPTS, f"{service} runs {command[0]!r}, not one of {sorted(SCRIPTS)}"
    result = run_cli([*command, "--help"], {})
    assert result.returncode == 0, f"{service}: {' '.join(command)} --help failed:\n{result.stderr}"


def test_dockerfile_default_command_is_an_entry_point() -> None:
    cmd_line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    assert cmd_line.split('"')[1] in SCRIPTS


def test_compose_file_is_valid(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        if IN_CI:
            pytest.fail("docker-compose (Debian package) is needed to validate compose.yaml in CI")
        pytest.skip("docker-compose not installed")
    (tmp_path / "deploy").mkdir()
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    shutil.copy(ROOT / "deploy" / "skills.env.example", tmp_path / "deploy" / "skills.env")
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    result = subprocess.run(
        [tool, "-f", "compose.yaml", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
