"""Client ID Metadata Documents over real TLS, and the official ``mcp`` client against the server.

The documents are served on loopback with a ``trustme`` CA; the authorization server trusts
that CA and loopback only because these tests set ``cimd_ca_file`` and ``cimd_allow_loopback``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientMetadata
from sqlalchemy import update

from authserver import client_metadata_documents as cimd
from authserver.users import create_user
from shared.db import transaction
from shared.models import OAuthClient, utcnow
from tests.authserver.auth_browser import EMAIL, PASSWORD, RESOURCE, Pkce, authorize_params, authorize_through_browser
from tests.authserver.conftest import RunningServer, start_server
from tests.authserver.protocol_servers import Document, DocumentServer, TestCA, resource_server_app
from tests.authserver.test_auth_code_flow import redeem, refresh, verify
from tests.stack import MemoryTokenStorage, SignIn, Stack

REDIRECT = "http://127.0.0.1:40123/callback"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def documents(ca: TestCA) -> Iterator[DocumentServer]:
    server = DocumentServer(ca)
    yield server
    server.stop()


def cimd_server(directory: Path, ca: TestCA, **overrides: Any) -> RunningServer:
    server = start_server(directory, cimd_allow_loopback=True, cimd_ca_file=ca.ca_file, **overrides)
    with transaction(server.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
    return server


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory, ca: TestCA) -> Iterator[RunningServer]:
    server = cimd_server(tmp_path_factory.mktemp("cimd-authserver"), ca)
    yield server
    server.stop()


@pytest.fixture
def http(issuer: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=issuer.issuer, follow_redirects=False, timeout=20) as client:
        yield client


def publish(documents: DocumentServer, path: str, cache: str = "max-age=600", **fields: Any) -> str:
    url = documents.url(path)
    body = {
        "client_id": url,
        "client_name": "Document Client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }
    documents.documents[path] = Document(json.dumps(body).encode(), headers={"Cache-Control": cache})
    return url


def assert_refused_on_a_page(response: httpx.Response, reason: str = "") -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "metadata document" in response.text and reason in response.text, response.text


def authorize(http: httpx.Client, client_id: str) -> httpx.Response:
    return http.get("/authorize", params=authorize_params(client_id, REDIRECT, Pkce()))


# The document flow -------------------------------------------------------------------------


def test_a_document_client_signs_in_and_gets_tokens(
    http: httpx.Client, issuer: RunningServer, documents: DocumentServer
) -> None:
    url = publish(documents, "/clients/flow.json")

    authorized = authorize_through_browser(http, client={"client_id": url}, redirect_uri=REDIRECT)
    tokens = redeem(http, authorized).json()

    assert verify(http, tokens["access_token"]).claims["client_id"] == url
    assert refresh(http, url, tokens["refresh_token"]).status_code == 200
    with issuer.db() as db:
        row = db.get(OAuthClient, url)
        assert row is not None and row.source == "cimd" and row.client_secret_hash is None
        assert row.metadata_expires_at is not None
        assert abs((row.metadata_expires_at - utcnow()).total_seconds() - 600) < 60


def test_the_document_is_cached_for_its_max_age_and_then_refetched(
    http: httpx.Client, issuer: RunningServer, documents: DocumentServer
) -> None:
    url = publish(documents, "/clients/cached.json")
    assert authorize(http, url).status_code == 303
    assert authorize(http, url).status_code == 303
    assert documents.fetches["/clients/cached.json"] == 1

    with transaction(issuer.db) as db:
        db.execute(update(OAuthClient).where(OAuthClient.client_id == url).values(metadata_expires_at=utcnow()))
    publish(documents, "/clients/cached.json", client_name="Renamed")
    assert authorize(http, url).status_code == 303
    assert documents.fetches["/clients/cached.json"] == 2
    with issuer.db() as db:
        row = db.get(OAuthClient, url)
        assert row is not None and row.client_metadata["client_name"] == "Renamed"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("max-age=600", 600), ("public, max-age=10", 300), ("max-age=99999999", 86400), ("no-store", 300), (None, 300)],
)
def test_cache_lifetime_is_clamped_between_floor_and_ceiling(header: str | None, seconds: int) -> None:
    assert cimd.cache_seconds(header, 300, 86400) == seconds


def test_a_stale_document_that_cannot_be_refetched_refuses_the_client(
    http: httpx.Client, issuer: RunningServer, documents: DocumentServer
) -> None:
    url = publish(documents, "/clients/gone.json")
    authorized = authorize_through_browser(http, client={"client_id": url}, redirect_uri=REDIRECT)
    del documents.documents["/clients/gone.json"]
    with transaction(issuer.db) as db:
        db.execute(update(OAuthClient).where(OAuthClient.client_id == url).values(metadata_expires_at=utcnow()))

    response = redeem(http, authorized)

    assert response.status_code in (400, 401) and response.json()["error"] == "invalid_client"


# What is refused ---------------------------------------------------------------------------


def _bad_documents(documents: DocumentServer) -> dict[str, Document]:
    good = {"client_name": "x", "redirect_uris": ["http://127.0.0.1/callback"]}
    return {
        "other-client-id": Document(json.dumps({**good, "client_id": "https://evil.example/doc.json"}).encode()),
        "redirect": Document(b"", status=302, headers={"Location": "https://127.0.0.1:1/x.json"}),
        "too-large": Document(b" " * (cimd.MAX_DOCUMENT_BYTES + 1) + b"{}"),
        "not-json": Document(b"<html>"),
        "secret-method": Document(b""),  # filled in below: needs its own URL
        "evil-redirect-uri": Document(b""),
        "client-secret": Document(b""),
        "missing": Document(b"{}", status=404),
    }


@pytest.mark.parametrize(
    "case",
    [
        "other-client-id",
        "redirect",
        "too-large",
        "not-json",
        "secret-method",
        "evil-redirect-uri",
        "client-secret",
        "missing",
    ],
)
def test_unusable_documents_are_refused_on_a_page(http: httpx.Client, documents: DocumentServer, case: str) -> None:
    path = f"/clients/bad-{case}.json"
    url = documents.url(path)
    fields = {
        "secret-method": {"token_endpoint_auth_method": "client_secret_basic"},
        "evil-redirect-uri": {"redirect_uris": ["http://evil.example/cb"]},
        "client-secret": {"client_secret": "s3cret"},
    }
    if case in fields:
        publish(documents, path, **fields[case])
    else:
        documents.documents[path] = _bad_documents(documents)[case]
    reasons = {
        "other-client-id": "does not name its own URL",
        "redirect": "HTTP 302",
        "too-large": "larger than",
        "not-json": "is not JSON",
        "secret-method": "token_endpoint_auth_method",
        "evil-redirect-uri": "loopback",
        "client-secret": "contains a client secret",
        "missing": "HTTP 404",
    }
    assert_refused_on_a_page(authorize(http, url), reasons[case])


def test_a_slow_document_server_times_out(
    http: httpx.Client, documents: DocumentServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cimd, "FETCH_TIMEOUT_SECONDS", 0.5)
    url = publish(documents, "/clients/slow.json")
    documents.documents["/clients/slow.json"].delay = 3
    assert_refused_on_a_page(authorize(http, url), "could not be fetched")


def test_loopback_documents_are_refused_unless_the_operator_allows_them(
    tmp_path: Path, ca: TestCA, documents: DocumentServer
) -> None:
    url = publish(documents, "/clients/loopback.json")
    server = start_server(tmp_path, cimd_ca_file=ca.ca_file)  # cimd_allow_loopback stays False
    try:
        with httpx.Client(base_url=server.issuer) as http:
            assert_refused_on_a_page(authorize(http, url), "does not connect to")
            by_address = documents.url("/clients/loopback.json", host="127.0.0.1")
            assert_refused_on_a_page(authorize(http, by_address), "does not connect to")
    finally:
        server.stop()
    assert documents.fetches.get("/clients/loopback.json", 0) == 0


def test_an_untrusted_certificate_is_refused(tmp_path: Path, documents: DocumentServer) -> None:
    url = publish(documents, "/clients/untrusted.json")
    server = start_server(tmp_path, cimd_allow_loopback=True)  # no test CA
    try:
        with httpx.Client(base_url=server.issuer) as http:
            assert_refused_on_a_page(authorize(http, url), "could not be fetched")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "127.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_never_fetched(address: str) -> None:
    assert cimd.address_problem(address) is not None
    assert (cimd.address_problem(address, allow_loopback=True) is None) == (
        address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    )


def test_public_addresses_are_allowed() -> None:
    assert cimd.address_problem("93.184.216.34") is None
    assert cimd.address_problem("2606:2800:220:1::1") is None


@pytest.mark.parametrize(
    "client_id",
    ["https://10.0.0.1/client.json", "https://169.254.169.254/latest/meta-data.json", "https://[fd00::1]/c.json"],
)
def test_private_address_urls_are_refused_before_connecting(http: httpx.Client, client_id: str) -> None:
    assert_refused_on_a_page(authorize(http, client_id), "does not connect to")


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example",
        "https://app.example/",
        "https://app.example/a/../b.json",
        "https://user@app.example/c.json",
        "https://app.example/c.json#x",
        "https://app.example:99999/c.json",
    ],
)
def test_client_id_urls_must_be_https_with_a_clean_path(url: str) -> None:
    assert cimd.client_id_url_problem(url) is not None


# The official MCP client -------------------------------------------------------------------


def routed_client(issuer: RunningServer, provider: OAuthClientProvider) -> httpx2.AsyncClient:
    """An httpx2 client whose requests to the resource (127.0.0.1:8000) reach a stand-in resource server."""
    resource_app = resource_server_app(issuer.issuer, RESOURCE, lambda: httpx.get(f"{issuer.issuer}/jwks").json())
    to_resource = httpx2.ASGITransport(app=resource_app)
    to_network = httpx2.AsyncHTTPTransport()

    class Router(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if (request.url.host, request.url.port) == ("127.0.0.1", 8000):
                return await to_resource.handle_async_request(request)
            return await to_network.handle_async_request(request)

    return httpx2.AsyncClient(auth=provider, transport=Router(), timeout=30)


def provider_for(issuer: RunningServer, sign_in: SignIn, **kwargs: Any) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=RESOURCE,
        client_metadata=OAuthClientMetadata(
            client_name="mcp SDK test client",
            redirect_uris=["http://127.0.0.1:1/callback"],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryTokenStorage(),
        redirect_handler=sign_in.redirect_handler,
        callback_handler=sign_in.callback_handler,
        **kwargs,
    )


@pytest.mark.parametrize("registration", ["dcr", "cimd"])
async def test_the_official_mcp_client_signs_in_calls_and_refreshes(
    issuer: RunningServer, documents: DocumentServer, registration: str
) -> None:
    sign_in = SignIn(Stack(issuer.issuer, RESOURCE, {}, EMAIL, PASSWORD))
    extra: dict[str, Any] = {}
    if registration == "cimd":
        extra["client_metadata_url"] = publish(documents, "/clients/mcp-sdk.json")
    provider = provider_for(issuer, sign_in, **extra)

    async with routed_client(issuer, provider) as client:
        first = await client.get(RESOURCE)
        assert first.status_code == 200, first.text
        tokens = provider.context.current_tokens
        assert tokens is not None and tokens.refresh_token
        provider.context.token_expiry_time = 1.0  # expired: the next call refreshes first
        second = await client.get(RESOURCE)
        assert second.status_code == 200, second.text

    assert len(sign_in.authorize_urls) == 1  # the refresh needed no new sign-in
    assert "code_challenge_method=S256" in sign_in.authorize_urls[0]
    assert sign_in.redirect is not None and sign_in.redirect["iss"] == issuer.issuer
    renewed = provider.context.current_tokens
    assert renewed is not None and renewed.refresh_token != tokens.refresh_token
    client_id = first.json()["client_id"]
    if registration == "cimd":
        assert client_id == extra["client_metadata_url"]
    else:
        assert not client_id.startswith("https://")
