"""deploy/nginx.conf in front of the real servers: real nginx, TLS from a test CA, forwarded headers.

The file is used as shipped except for what a deployment replaces anyway: certificate
paths, the ports it listens on and the upstream ports (and no IPv6 listener, which test
machines may lack). The servers trust X-Forwarded-For from the proxy (127.0.0.1).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from tests.browser import forms_of
from tests.conftest import IN_CI
from tests.e2e.stacks import sqlite_database
from tests.processes import ROOT, free_port
from tests.stack import Stack, running_stack

AUTH_NAME, MCP_NAME = "auth.example.com", "skills.example.com"
PER_ADDRESS = 2


@dataclass
class Proxy:
    stack: Stack
    https_port: int
    http_port: int
    tls: ssl.SSLContext
    config: Path

    def get(self, name: str, path: str, **kwargs: object) -> httpx.Response:
        return self.request("GET", name, path, **kwargs)

    def request(self, method: str, name: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Host": name, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        with httpx.Client(verify=self.tls, timeout=10) as http:
            return http.request(
                method,
                f"https://127.0.0.1:{self.https_port}{path}",
                headers=headers,
                extensions={"sni_hostname": name},
                **kwargs,  # type: ignore[arg-type]
            )


def nginx_path() -> str:
    path = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")  # not on a user's PATH
    if path is None:
        if IN_CI:
            pytest.fail("nginx is missing: CI=true requires it (Debian package 'nginx')")
        pytest.skip("nginx is not installed (Debian package 'nginx')")
    return path


def site_config(stack: Stack, directory: Path, https_port: int, http_port: int) -> str:
    """deploy/nginx.conf with this machine's certificates, ports and upstreams."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)
    text = text.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ").replace(
        "listen 80;", f"listen 127.0.0.1:{http_port};"
    )
    text = text.replace("127.0.0.1:9000", stack.issuer.removeprefix("http://"))
    text = text.replace("127.0.0.1:8000", stack.resource.removeprefix("http://").removesuffix("/mcp"))
    for name in (AUTH_NAME, MCP_NAME):
        text = text.replace(f"/etc/letsencrypt/live/{name}/fullchain.pem", str(directory / f"{name}.pem"))
        text = text.replace(f"/etc/letsencrypt/live/{name}/privkey.pem", str(directory / f"{name}.pem"))
    return text


def main_config(directory: Path, site: Path) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {directory / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off;\npid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
        f"events {{}}\nhttp {{\n    access_log off;\n{temp}\n    include {site};\n}}\n"
    )


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    nginx = nginx_path()
    directory = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    for name in (AUTH_NAME, MCP_NAME):
        ca.issue_cert(name).private_key_and_cert_chain_pem.write_to_path(str(directory / f"{name}.pem"))
    tls = ssl.create_default_context()
    ca.configure_trust(tls)
    database = sqlite_database(
        tmp_path_factory,
        "proxied-by-nginx",
        forwarded_allow_ips=json.dumps(["127.0.0.1"]),
        mcp_allowed_hosts=json.dumps([MCP_NAME]),
        login_failures_per_address=str(PER_ADDRESS),
        login_failures_per_account="100",
    )
    with running_stack(database) as stack:
        https_port, http_port = free_port(), free_port()
        site = directory / "site.conf"
        site.write_text(site_config(stack, directory, https_port, http_port))
        config = directory / "nginx.conf"
        config.write_text(main_config(directory, site))
        error_log = str(directory / "error.log")
        process = subprocess.Popen([nginx, "-c", str(config), "-e", error_log], stderr=subprocess.PIPE)
        try:
            proxy = Proxy(stack, https_port, http_port, tls, config)
            deadline = time.monotonic() + 10
            while True:
                try:
                    proxy.get(AUTH_NAME, "/healthz")
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not start: {Path(error_log).read_text()}") from None
                    time.sleep(0.05)
            yield proxy
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_nginx_accepts_the_configuration(proxy: Proxy) -> None:
    error_log = str(proxy.config.parent / "error.log")
    checked = subprocess.run(
        [nginx_path(), "-t", "-c", str(proxy.config), "-e", error_log], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_plain_http_is_redirected_to_https(proxy: Proxy) -> None:
    response = httpx.get(f"http://127.0.0.1:{proxy.http_port}/login", headers={"Host": AUTH_NAME})
    assert response.status_code == 301
    assert response.headers["location"] == f"https://{AUTH_NAME}/login"


def test_each_name_reaches_its_server_and_metrics_stay_inside(proxy: Proxy) -> None:
    metadata = proxy.get(AUTH_NAME, "/.well-known/oauth-authorization-server")
    assert metadata.status_code == 200
    assert metadata.json()["issuer"] == proxy.stack.issuer  # from settings, whatever the proxy says
    challenge = proxy.request("POST", MCP_NAME, "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert challenge.status_code == 401
    assert "resource_metadata=" in challenge.headers["www-authenticate"]
    for name in (AUTH_NAME, MCP_NAME):
        assert proxy.get(name, "/metrics").status_code == 404


def test_a_client_cannot_pick_its_throttled_address_through_the_proxy(proxy: Proxy) -> None:
    statuses = []
    for number in range(PER_ADDRESS + 1):
        with httpx.Client(verify=proxy.tls) as http:
            page = http.get(
                f"https://127.0.0.1:{proxy.https_port}/login",
                headers={"Host": AUTH_NAME},
                extensions={"sni_hostname": AUTH_NAME},
            )
            form = forms_of(page.text)[0]
            answer = http.post(
                f"https://127.0.0.1:{proxy.https_port}/login",
                data={**form.fields, "email": f"guess{number}@example.com", "password": "wrong password"},
                headers={"Host": AUTH_NAME, "X-Forwarded-For": f"203.0.113.{number}"},
                extensions={"sni_hostname": AUTH_NAME},
            )
        statuses.append(answer.status_code)
    assert statuses == [400] * PER_ADDRESS + [429]  # nginx replaced the forged header with the real peer
