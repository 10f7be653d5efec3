"""SKILLS_LOG_LEVEL holds for both servers, uvicorn's own lines included; every line is JSON."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Database
from tests.stack import running_stack


def test_the_log_level_from_settings_holds_for_both_servers_and_uvicorn(sqlite_database: Database) -> None:
    with running_stack(sqlite_database, extra_env={"SKILLS_LOG_LEVEL": "WARNING"}) as stack:
        assert httpx.get(f"{stack.issuer}/healthz").status_code == 200
        assert httpx.get(stack.resource.removesuffix("/mcp") + "/nowhere").status_code == 404
        assert httpx.post(stack.resource, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).status_code == 401
    for name in ("authserver", "mcpserver"):
        lines = (sqlite_database.data_dir / f"{name}.log").read_text().splitlines()
        records = [json.loads(line) for line in lines]  # nothing but JSON lines
        assert not [r for r in records if r["level"] in ("debug", "info")], (name, records)


def test_at_info_uvicorns_lines_are_json_with_request_ids(sqlite_database: Database) -> None:
    with running_stack(sqlite_database, extra_env={"SKILLS_LOG_LEVEL": "INFO"}) as stack:
        answered = httpx.get(f"{stack.issuer}/healthz?probe=1").headers["x-request-id"]
    records = [json.loads(line) for line in (sqlite_database.data_dir / "authserver.log").read_text().splitlines()]
    [access] = [r for r in records if r.get("request_id") == answered]
    assert access["logger"] == "uvicorn.access" and access["level"] == "info"
    assert '"GET /healthz HTTP/1.1" 200' in access["msg"]  # the query string is left out
    assert any(r["logger"] == "uvicorn.error" and "Started server process" in r["msg"] for r in records)
