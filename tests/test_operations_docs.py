"""Operating documents stay true: configuration reference, server.json, alert rules, proxy, image.

External tools (``promtool`` from Debian's ``prometheus`` package, ``caddy`` from Debian's
``caddy`` package) are required under ``CI=true`` and skipped with a reason elsewhere.
"""

from __future__ import annotations

import builtins
import io
import ipaddress
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from shared.settings import Settings
from shared.settings_reference import REGENERATE, default_text, env_name, render
from tests.conftest import IN_CI
from tests.processes import ROOT, free_port, run_cli

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCHEMA_DIR = ROOT / "tests" / "data" / "mcp-registry"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if IN_CI:
        pytest.fail(f"{name} is missing: CI=true requires it (Debian package {package!r})")
    pytest.skip(f"{name} is not installed (Debian package {package!r})")


def run_tool(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


# Configuration reference ----------------------------------------------------------------


def test_configuration_reference_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), f"docs/configuration.md is out of date with shared/settings.py: run `{REGENERATE}`"


def test_the_regenerate_command_prints_the_reference() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.settings_reference"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == render()


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_has_a_description(name: str) -> None:
    description = Settings.model_fields[name].description
    assert description and description.strip(), f"Settings.{name} needs a description= (it is the documentation)"


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_a_row_with_its_variable(name: str) -> None:
    rows = [line for line in render().splitlines() if line.startswith(f"| `{env_name(name)}` |")]
    assert len(rows) == 1
    cells = [cell.strip() for cell in rows[0].strip("|").split(" | ")]
    assert len(cells) == 4 and all(cells), rows[0]
    assert "None" not in cells[2], f"{name}: say what an unset value means instead of `None`"


def test_variable_names_follow_the_settings_prefix() -> None:
    assert env_name("data_dir") == "SKILLS_DATA_DIR"
    assert Settings.model_config["env_prefix"] == "SKILLS_"


def test_derived_defaults_are_explained_in_words() -> None:
    fields = Settings.model_fields
    assert "skills.db" in default_text(fields["database_url"])
    assert "data directory" in default_text(fields["database_url"])
    assert default_text(fields["auth_database_url"]) == "`SKILLS_DATABASE_URL`"
    assert default_text(fields["mcp_database_url"]) == "`SKILLS_DATABASE_URL`"
    assert "resource URL" in default_text(fields["mcp_allowed_hosts"])
    assert "`kek`" in default_text(fields["key_encryption_key_file"])
    assert default_text(fields["db_auth_password"]) == "unset"
    assert default_text(fields["access_token_ttl"]) == "`3600`"


def test_types_name_choices_and_bounds() -> None:
    rows = {line.split(" | ")[0]: line for line in render().splitlines() if line.startswith("| `SKILLS_")}
    assert "one of `DEBUG`, `INFO`, `WARNING`, `ERROR`" in rows["| `SKILLS_LOG_LEVEL`"]
    assert "integer (≥ 30, ≤ 600)" in rows["| `SKILLS_AUTHORIZATION_CODE_TTL`"]
    assert "JSON list of strings" in rows["| `SKILLS_EXTRA_RESOURCE_URLS`"]


def test_readme_names_only_real_settings_and_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :].split("\n## ", 1)[0]
    known = {env_name(name) for name in Settings.model_fields}
    named = set(re.findall(r"SKILLS_[A-Z_]+[A-Z]", section))
    assert named, "the README's configuration section names no setting"
    assert named <= known, f"README names settings that do not exist: {sorted(named - known)}"
    assert "(docs/configuration.md)" in section


# server.json for the MCP Registry --------------------------------------------------------


def load_server_json() -> dict[str, Any]:
    return json.loads((ROOT / "server.json").read_text())


def registry_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / "server.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_server_json_is_valid_for_the_registry() -> None:
    errors = sorted(registry_validator().iter_errors(load_server_json()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_registry_schema_rejects_a_broken_server_json() -> None:
    broken = {**load_server_json(), "name": "no-namespace", "description": "x" * 101}
    messages = [error.message for error in registry_validator().iter_errors(broken)]
    assert len(messages) == 2, messages


def test_server_json_version_is_the_package_version() -> None:
    assert load_server_json()["version"] == PYPROJECT["project"]["version"]


def test_server_json_names_the_schema_it_is_checked_against() -> None:
    schema = json.loads((SCHEMA_DIR / "server.schema.json").read_text())
    assert load_server_json()["$schema"] == schema["$id"]


def test_server_json_remote_is_streamable_http_with_described_variables() -> None:
    (remote,) = load_server_json()["remotes"]
    assert remote["type"] == "streamable-http"
    assert remote["url"].startswith("https://")
    used = set(re.findall(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}", remote["url"]))
    assert used == {"host"}
    assert set(remote["variables"]) == used
    for name in used:
        assert remote["variables"][name].get("description"), f"variable {name} needs a description"
    # The path is the MCP endpoint's path by default.
    assert urlsplit(remote["url"].replace("{host}", "h")).path == urlsplit(Settings().resource_url).path


def test_the_schema_copy_matches_the_shared_original() -> None:
    original = ROOT.parent / "shared" / "data" / "mcp-registry" / "server.schema.json"
    if not original.exists():
        pytest.skip("../shared/data/mcp-registry is not beside this checkout")
    assert (SCHEMA_DIR / "server.schema.json").read_bytes() == original.read_bytes()


# Prometheus --------------------------------------------------------------------------------


def test_alert_rules_pass_promtool_check() -> None:
    promtool = require_tool("promtool", "prometheus")
    result = run_tool([promtool, "check", "rules", "deploy/prometheus/alerts.yml"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass() -> None:
    promtool = require_tool("promtool", "prometheus")
    result = run_tool([promtool, "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_example_passes_promtool_check() -> None:
    promtool = require_tool("promtool", "prometheus")
    result = run_tool([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def alert_names() -> set[str]:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def test_every_alert_has_a_unit_test_that_makes_it_fire() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    assert {"SkillsHighErrorRate", "SkillsAuthFailureSpike", "SkillsUserOverRateLimit"} <= alert_names()
    assert alert_names() <= fired, f"alerts never shown firing: {sorted(alert_names() - fired)}"


def test_alerts_use_only_metrics_the_readme_defines() -> None:
    alerts = (PROMETHEUS_DIR / "alerts.yml").read_text()
    readme = (PROMETHEUS_DIR / "README.md").read_text()
    defined = set(re.findall(r"^\| `(skills_\w+)` \|", readme, flags=re.MULTILINE))
    used = set(re.findall(r"\bskills_[a-z_]+_(?:total|seconds)\b", alerts))
    assert used and used <= defined, f"metrics used but not defined: {sorted(used - defined)}"


def test_scrape_jobs_match_the_server_down_alert() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"skills-authserver", "skills-mcpserver"}
    targets = {t for job in jobs.values() for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {"authserver:9101", "mcpserver:9102"}


# Reverse proxy -----------------------------------------------------------------------------


def example_hosts() -> tuple[str, str]:
    env = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "skills.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return urlsplit(env["SKILLS_ISSUER_URL"]).hostname or "", urlsplit(env["SKILLS_RESOURCE_URL"]).hostname or ""


def test_compose_puts_the_tls_proxy_in_front_of_both_servers() -> None:
    proxy = COMPOSE["services"]["proxy"]
    assert {"443:443", "80:80"} <= set(proxy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    assert (ROOT / "deploy" / "Caddyfile").is_file()
    assert set(proxy["depends_on"]) == {"authserver", "mcpserver"}
    auth_host, mcp_host = example_hosts()
    assert proxy["environment"] == {
        "AUTH_DOMAIN": f"${{AUTH_DOMAIN:-{auth_host}}}",
        "MCP_DOMAIN": f"${{MCP_DOMAIN:-{mcp_host}}}",
    }


def caddy_routes(caddy: str, env: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    result = subprocess.run(
        [caddy, "adapt", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stderr
    servers = json.loads(result.stdout)["apps"]["http"]["servers"]
    routes = [route for server in servers.values() for route in server["routes"]]
    return {route["match"][0]["host"][0]: route["handle"][0]["routes"] for route in routes}


def test_caddyfile_proxies_each_name_to_its_server_and_hides_metrics() -> None:
    caddy = require_tool("caddy", "caddy")
    routes = caddy_routes(caddy, {"AUTH_DOMAIN": "auth.test", "MCP_DOMAIN": "skills.test"})
    assert set(routes) == {"auth.test", "skills.test"}
    for host, upstream in (("auth.test", "authserver:9000"), ("skills.test", "mcpserver:8000")):
        blocked, proxied = routes[host]
        assert blocked["match"] == [{"path": ["/metrics*"]}]
        assert blocked["handle"] == [{"handler": "static_response", "status_code": 404}]
        assert proxied["handle"] == [{"handler": "reverse_proxy", "upstreams": [{"dial": upstream}]}]


def test_caddyfile_defaults_are_the_example_hosts() -> None:
    caddy = require_tool("caddy", "caddy")
    assert set(caddy_routes(caddy, {})) == set(example_hosts())


def test_both_servers_trust_forwarded_headers_only_from_the_compose_networks() -> None:
    for name in ("authserver", "mcpserver"):
        value = COMPOSE["services"][name]["environment"]["SKILLS_FORWARDED_ALLOW_IPS"]
        allowed = Settings(forwarded_allow_ips=json.loads(value)).forwarded_allow_ips
        assert allowed and "*" not in allowed, name
        assert all(ipaddress.ip_network(network).is_private for network in allowed), name


# Image -------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[str]:
    """Instructions as Docker reads them: continuation lines joined, keeping their indentation."""
    instructions: list[str] = []
    current: str | None = None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if current is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            current = line
        elif line.lstrip().startswith("#"):
            continue
        else:
            current += line
        if current.rstrip().endswith("\\"):
            current = current.rstrip()[:-1]
        else:
            instructions.append(current)
            current = None
    assert current is None, "the Dockerfile ends inside a continued line"
    return instructions


def runtime_stage() -> list[str]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def test_image_runs_as_a_numeric_non_root_user() -> None:
    users = [line.split()[1] for line in runtime_stage() if line.startswith("USER ")]
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_image_keeps_its_default_command() -> None:
    (cmd,) = [line for line in runtime_stage() if line.startswith("CMD ")]
    assert json.loads(cmd.removeprefix("CMD ")) == ["mcpserver", "serve"]


def healthcheck_code() -> str:
    (line,) = [line for line in runtime_stage() if line.startswith("HEALTHCHECK ")]
    exec_form = json.loads(line.split(" CMD ", 1)[1])  # Docker runs shell form if this is not JSON
    assert exec_form[:2] == ["python", "-c"]
    code: str = exec_form[2]
    return code


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", free_port()), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def run_healthcheck(pid1_argv: list[str]) -> None:
    """Run the image's health check as if PID 1 ran ``pid1_argv`` (raises when unhealthy)."""
    cmdline = b"\0".join(arg.encode() for arg in pid1_argv) + b"\0"

    def fake_open(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if path == "/proc/1/cmdline":
            return io.BytesIO(cmdline)
        return builtins.open(path, mode, *args, **kwargs)

    exec(compile(healthcheck_code(), "HEALTHCHECK", "exec"), {"open": fake_open})  # noqa: S102


@pytest.mark.parametrize(
    ("argv", "port_variable"),
    [
        (["/app/.venv/bin/python", "/app/.venv/bin/mcpserver", "serve"], "SKILLS_MCP_PORT"),
        (["/app/.venv/bin/python", "/app/.venv/bin/authserver", "serve"], "SKILLS_AUTH_PORT"),
    ],
)
def test_healthcheck_probes_the_server_the_container_runs(
    argv: list[str], port_variable: str, health_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "SKILLS_AUTH_PORT" if port_variable == "SKILLS_MCP_PORT" else "SKILLS_MCP_PORT"
    monkeypatch.setenv(port_variable, str(health_server))
    monkeypatch.setenv(other, str(free_port()))  # nothing listens there
    run_healthcheck(argv)
    monkeypatch.setenv(port_variable, str(free_port()))
    with pytest.raises(OSError):
        run_healthcheck(argv)


def test_healthcheck_passes_for_one_shot_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKILLS_AUTH_PORT", str(free_port()))  # nothing listens there
    run_healthcheck(["/app/.venv/bin/python", "/app/.venv/bin/authserver", "db", "upgrade"])


# Operations guide --------------------------------------------------------------------------


def test_operations_guide_uses_only_real_compose_services() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    services = set(re.findall(r"docker compose (?:run|exec)(?: --rm| -T)* ([a-z]+)", guide))
    assert services and services <= set(COMPOSE["services"]), services


def test_operations_guide_uses_only_real_cli_commands_or_marks_them_intended() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    commands = sorted(set(re.findall(r"\bauthserver (db|users|keys) ([a-z]+)\b", guide)))
    assert ("db", "upgrade") in commands and ("keys", "rotate") in commands
    for group, command in commands:
        result = run_cli(["authserver", group, command, "--help"], {})
        if result.returncode != 0:
            assert (group, command) == ("keys", "rotate"), f"docs/operations.md shows `authserver {group} {command}`"
            assert "Intended interface, not built yet" in guide


@pytest.mark.parametrize("document", ["README.md", "docs/operations.md", "deploy/prometheus/README.md"])
def test_relative_links_resolve(document: str) -> None:
    path = ROOT / document
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
        assert (path.parent / target).exists(), f"{document} links to missing {target}"
