"""The connection guide, troubleshooting and proxy documents stay true to the code they describe."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import mcp
import mcp.client.auth
import pytest

from mcpserver.tools import TOOL_SCOPES
from shared.settings import Settings
from tests.e2e.screenshots import DOCS_IMAGES, PAGES, VIEWPORTS
from tests.processes import ROOT

GUIDES = {
    name: (ROOT / "docs" / name).read_text() for name in ("connecting.md", "troubleshooting.md", "reverse-proxy.md")
}
README = (ROOT / "README.md").read_text()
SOURCES = "\n".join(p.read_text() for d in ("authserver", "mcpserver", "shared") for p in (ROOT / d).rglob("*.py"))
SOURCES += "\n".join(p.read_text() for d in ("web/templates",) for p in (ROOT / "authserver" / d).glob("*.html"))
SDK_SOURCES = "\n".join(p.read_text() for p in Path(mcp.client.auth.__file__).parent.rglob("*.py"))
MCP_PACKAGE = Path(mcp.__file__).parent

SERVER_MESSAGES = [
    "token issued by another authorization server",
    "token issued for another resource",
    "The resource is not served by this authorization server.",
    "token issued in the future",
    "token not yet valid",
    "token expired",
    "the token was revoked: sign in again",
    "the account is disabled",
    "The refresh token was already used.",
    "The account is disabled.",
    "may use plain http only on a loopback address (127.0.0.1, [::1] or localhost)",
    "must be an https URI, http on a loopback address, or use a scheme the operator allows",
    "must not contain a fragment",
    "The redirect_uri is not registered for this client.",
    "Missing redirect_uri: this client registered several.",
    "The client's metadata document",
    "its host resolves to an address this server does not connect to",
    "This sign-in request has expired",
    "It was already used or is too old. Start signing in again from the application.",
    "The email or the password is wrong.",
    "Too many failed sign-ins.",
    "no account on this server for this token's subject",
]
SDK_MESSAGES = ["Authorization server metadata issuer mismatch:", "Authorization response iss mismatch:"]


@pytest.mark.parametrize("message", SERVER_MESSAGES)
def test_troubleshooting_quotes_messages_the_servers_really_give(message: str) -> None:
    assert message in _flat(GUIDES["troubleshooting.md"]), message
    assert message in SOURCES, f"no server says {message!r} any more: update docs/troubleshooting.md"


@pytest.mark.parametrize("message", SDK_MESSAGES)
def test_troubleshooting_quotes_messages_the_sdk_client_really_gives(message: str) -> None:
    assert message in _flat(GUIDES["troubleshooting.md"])
    assert message in SDK_SOURCES


def test_host_and_origin_refusals_are_the_sdk_transport_guards() -> None:
    guard = (MCP_PACKAGE / "server" / "transport_security.py").read_text()
    for status, text in ((421, "Invalid Host header"), (403, "Invalid Origin header")):
        assert f'Response("{text}", status_code={status})' in guard
        assert f"{status} `{text}`" in GUIDES["troubleshooting.md"]


def test_every_setting_the_guides_name_exists() -> None:
    named = {m for text in GUIDES.values() for m in re.findall(r"\bSKILLS_[A-Z_]+\b", text)}
    known = {f"SKILLS_{name.upper()}" for name in Settings.model_fields}
    assert named and named <= known, sorted(named - known)


def test_slash_commands_use_only_tools_the_server_has() -> None:
    """The guide installs the example commands (their own tools are checked by test_example_commands)."""
    guide = GUIDES["connecting.md"]
    tools = set(re.findall(r"`((?:list|get|save|share|delete|create|invite|search|render)_[a-z_]+)`", guide))
    assert {"save_snippet", "search_snippets", "get_snippet"} <= tools
    assert tools <= set(TOOL_SCOPES), sorted(tools - set(TOOL_SCOPES))
    assert "cp examples/claude/commands/*.md .claude/commands/" in guide
    for command in ("snippet", "find", "load"):
        assert f"`/{command}" in guide
        assert (ROOT / "examples" / "claude" / "commands" / f"{command}.md").is_file()


def test_readme_and_guides_link_only_to_files_that_exist() -> None:
    for source, text in (("README.md", README), *((f"docs/{n}", t) for n, t in GUIDES.items())):
        base = (ROOT / source).parent
        for target in re.findall(r"\]\(([^)#]+)\)|src=\"([^\"]+)\"", text):
            path = next(t for t in target if t)
            if not path.startswith("http"):
                assert (base / path).exists(), f"{source} links to missing {path}"


def test_the_readme_shows_every_page_at_both_widths_as_the_tests_took_them() -> None:
    for page in PAGES:
        for label, size in VIEWPORTS.items():
            image = DOCS_IMAGES / f"{page}-{label}.png"
            assert f"docs/images/{image.name}" in README
            header = image.read_bytes()[:24]
            assert header[:8] == b"\x89PNG\r\n\x1a\n"
            width, height = struct.unpack(">II", header[16:24])
            assert width == size["width"] and height >= size["height"], (image.name, width, height)


def test_the_nginx_example_in_the_guide_matches_deploy_nginx_conf() -> None:
    shipped = (ROOT / "deploy" / "nginx.conf").read_text()
    for line in (
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_buffering off;",
    ):
        assert line in shipped and line in GUIDES["reverse-proxy.md"]
    assert "$proxy_add_x_forwarded_for;" not in shipped


def _flat(markdown: str) -> str:
    """The text with line breaks undone (Markdown wraps long messages)."""
    return " ".join(markdown.split())
