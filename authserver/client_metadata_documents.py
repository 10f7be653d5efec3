"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): an https URL as ``client_id``.

Claude's clients and the ``mcp`` SDK name themselves by a URL whose JSON document holds their
metadata. Fetching a URL a stranger chose is a server-side request forgery risk, so:

- the URL must be ``https`` with a path, without fragment, userinfo or dot segments;
- the host is resolved here and every address must be public (no loopback, private,
  link-local, metadata, multicast or reserved address, also not embedded in IPv6); the
  request then goes to the vetted address itself, with the host name only in ``Host`` and
  TLS SNI, so a second DNS answer cannot redirect it (DNS rebinding);
- no redirects, a timeout, and a size cap;
- the document must name itself (``client_id`` equals the URL), pass the redirect-URI policy,
  and be a public client (``none``: a published document cannot hold a secret).

Documents are cached in ``oauth_clients`` (source ``cimd``) for the ``max-age`` the server
sent, clamped between ``cimd_cache_min_seconds`` and ``cimd_cache_max_seconds``. A stale
copy is refetched at /authorize and /token; if that fails the client is refused, not served
from the stale copy. Operators may allow loopback (tests) and add a CA file.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import anyio
import httpx
from authlib.oauth2 import OAuth2Error
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from authserver import audit
from authserver.client_metadata import validated_client_metadata
from shared.models import OAuthClient, utcnow
from shared.settings import Settings

if TYPE_CHECKING:
    from authserver.context import AuthContext

MAX_DOCUMENT_BYTES = 16 * 1024
FETCH_TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.IGNORECASE)


class DocumentError(Exception):
    """The client's metadata document cannot be used; the message is safe to show."""


def is_metadata_document_url(client_id: str | None) -> bool:
    """Whether ``client_id`` names a metadata document (rather than a registered client)."""
    return bool(client_id) and str(client_id).startswith("https://")


def client_id_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a client ID metadata document URL, or None if it can."""
    if len(url) > MAX_URL_LENGTH or not all(0x21 <= ord(c) <= 0x7E for c in url):
        return "is not a well-formed URL"
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return "is not a well-formed URL"
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https URL"
    if "#" in url or "@" in parts.netloc:
        return "must not contain a fragment or user information"
    if parts.path in ("", "/") or any(segment in (".", "..") for segment in parts.path.split("/")):
        return "must have a path without dot segments"
    return None


# Where we may connect ------------------------------------------------------------------------


def address_problem(address: str, allow_loopback: bool = False) -> str | None:
    """Why we must not connect to ``address``, or None if it is a public address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(str(embedded), allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else "is a loopback address"
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "is not a public address"
    return None


async def vetted_addresses(host: str, port: int, allow_loopback: bool) -> list[str]:
    """The host's addresses, if every one of them is allowed (one bad answer refuses them all)."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise DocumentError("its host name does not resolve") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise DocumentError("its host name does not resolve")
    for address in addresses:
        if address_problem(address, allow_loopback):
            raise DocumentError("its host resolves to an address this server does not connect to")
    return addresses


# Fetching ----------------------------------------------------------------------------------


def cache_seconds(cache_control: str | None, floor: int, ceiling: int) -> int:
    """How long to keep a document: its ``max-age`` (``s-maxage``), clamped; the floor without one."""
    match = _MAX_AGE.search(cache_control or "")
    lowered = (cache_control or "").lower()
    if match is None or "no-store" in lowered or "no-cache" in lowered:
        return floor
    return max(floor, min(ceiling, int(match.group(1))))


def _tls_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.cimd_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.cimd_ca_file))
    return context


async def _get(parts: SplitResult, address: str, settings: Settings) -> tuple[bytes, str | None]:
    """GET the document from ``address`` (already vetted), keeping the host name for Host and SNI."""
    port = parts.port or 443
    literal = f"[{address.split('%', 1)[0]}]" if ":" in address else address
    target = urlunsplit(("https", f"{literal}:{port}", parts.path, parts.query, ""))
    host = parts.hostname or ""
    extensions: dict[str, Any] = {}
    try:
        ipaddress.ip_address(host)
    except ValueError:
        extensions["sni_hostname"] = host  # the certificate is checked against the name, not the address
    async with (
        httpx.AsyncClient(
            verify=_tls_context(settings),
            timeout=httpx.Timeout(FETCH_TIMEOUT_SECONDS),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: it would connect by name again
        ) as client,
        client.stream(
            "GET", target, headers={"Host": parts.netloc, "Accept": "application/json"}, extensions=extensions
        ) as response,
    ):
        if response.status_code != 200:
            raise DocumentError(f"answered HTTP {response.status_code} (redirects are not followed)")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
            raise DocumentError(f"is larger than {MAX_DOCUMENT_BYTES} bytes")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise DocumentError(f"is larger than {MAX_DOCUMENT_BYTES} bytes")
        return bytes(body), response.headers.get("cache-control")


async def fetch_document(url: str, settings: Settings) -> tuple[Any, int]:
    """The parsed document at ``url`` and how many seconds it may be cached, or :class:`DocumentError`."""
    if problem := client_id_url_problem(url):
        raise DocumentError(f"the client_id URL {problem}")
    parts = urlsplit(url)
    addresses = await vetted_addresses(parts.hostname or "", parts.port or 443, settings.cimd_allow_loopback)
    last_error: Exception | None = None
    with anyio.move_on_after(FETCH_TIMEOUT_SECONDS * 2):
        for address in addresses:
            try:
                body, cache_control = await _get(parts, address, settings)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                last_error = error  # try the host's next address
            except (httpx.HTTPError, ssl.SSLError, OSError) as error:
                raise DocumentError("could not be fetched") from error
        else:
            raise DocumentError("could not be fetched") from last_error
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise DocumentError("is not JSON") from error
        seconds = cache_seconds(cache_control, settings.cimd_cache_min_seconds, settings.cimd_cache_max_seconds)
        return document, seconds
    raise DocumentError("could not be fetched in time")


def document_metadata(url: str, document: Any, native_schemes: Collection[str]) -> dict[str, Any]:
    """The client metadata a document declares, or :class:`DocumentError` if it may not be used."""
    if not isinstance(document, dict):
        raise DocumentError("is not a JSON object")
    if document.get("client_id") != url:
        raise DocumentError("does not name its own URL as client_id")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise DocumentError("contains a client secret")
    try:
        return validated_client_metadata(document, native_schemes, auth_methods=("none",))
    except OAuth2Error as error:
        raise DocumentError(f"is not acceptable: {error.description}") from error


# The cache in oauth_clients -----------------------------------------------------------------


def _is_fresh(db: Session, client_id: str, now: datetime) -> bool:
    row = db.get(OAuthClient, client_id)
    return row is not None and row.metadata_expires_at is not None and row.metadata_expires_at > now


def store_document(db: Session, client_id: str, metadata: dict[str, Any], expires_at: datetime) -> bool:
    """Insert or refresh the cached client (one upsert: concurrent first fetches do not collide).

    True when this was the client's first fetch (then audited as a registration).
    """
    first = db.get(OAuthClient, client_id) is None
    dialect = db.get_bind().dialect.name
    insert = postgresql.insert(OAuthClient) if dialect == "postgresql" else sqlite.insert(OAuthClient)
    values = {"client_metadata": metadata, "metadata_expires_at": expires_at}
    statement = insert.values(client_id=client_id, source="cimd", created_at=utcnow(), **values).on_conflict_do_update(
        index_elements=[OAuthClient.client_id], set_=values, where=OAuthClient.source == "cimd"
    )
    db.execute(statement)
    if first:
        audit.record(db, "client.register", client_id=client_id, source="metadata_document")
    return first


async def ensure_client_document(ctx: AuthContext, client_id: str | None) -> str | None:
    """Make sure a metadata-document client is cached and fresh; returns why not, or None.

    Runs on the event loop before the request's transaction, so no database connection is
    held while a stranger's server takes its time to answer.
    """
    if client_id is None or not is_metadata_document_url(client_id):
        return None
    now = utcnow()
    if await ctx.run(_is_fresh, client_id, now):
        return None
    settings = ctx.settings
    try:
        document, seconds = await fetch_document(client_id, settings)
        metadata = document_metadata(client_id, document, settings.native_redirect_schemes)
    except DocumentError as error:
        return f"The client's metadata document {error}."
    if await ctx.run(store_document, client_id, metadata, now + timedelta(seconds=seconds)):
        ctx.metrics.registrations.labels("metadata_document").inc()
    return None
