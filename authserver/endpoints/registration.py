"""Dynamic client registration (RFC 7591).

Our own small endpoint rather than Authlib's ``ClientRegistrationEndpoint``: that one always
mints a client secret and its default checks accept redirect URIs such as ``http://evil/cb``
or ``javascript:…``. The policy lives in :mod:`authserver.client_metadata`.

Anyone may register, so: bodies are capped (``registration_max_bytes``, and at most
``registration_max_redirect_uris`` redirect URIs), each client address may register
``registration_rate_limit`` times per ``registration_rate_window`` (counted in the database,
so the limit holds across processes), and every registration also prunes registrations that
were never used (:func:`authserver.clients.prune_unused`). Public clients (``none``) get no
secret; confidential ones get one, stored hashed. Every client gets a registration access
token (stored hashed) for its RFC 7592 configuration endpoint.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authserver import audit, throttle
from authserver.client_metadata import validated_client_metadata
from authserver.clients import Registration, prune_unused, register_client
from authserver.context import AuthContext
from authserver.server import oauth_error_response
from shared.models import OAuthClient
from shared.settings import Settings

NO_STORE = {"Cache-Control": "no-store"}


def client_information(
    row: OAuthClient, issuer: str, registration_access_token: str, client_secret: str | None = None
) -> dict[str, Any]:
    """The RFC 7591 §3.2.1 / RFC 7592 §3 response: the metadata plus the server-minted values."""
    body: dict[str, Any] = {
        "client_id": row.client_id,
        "client_id_issued_at": int(row.created_at.timestamp()) if row.created_at else int(time.time()),
        **row.client_metadata,
        "registration_client_uri": f"{issuer}/register/{row.client_id}",
        "registration_access_token": registration_access_token,
    }
    if client_secret is not None:
        body["client_secret"] = client_secret
        body["client_secret_expires_at"] = 0
    return body


def parse_json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidClientMetadataError("The body must be a JSON object.") from error


def too_large(settings: Settings) -> JSONResponse:
    """413 for a registration (or RFC 7592 update) body over ``registration_max_bytes``."""
    return JSONResponse(
        {
            "error": "invalid_client_metadata",
            "error_description": f"The registration request is larger than {settings.registration_max_bytes} bytes.",
        },
        status_code=413,
        headers=NO_STORE,
    )


def metadata_of(body: Any, settings: Settings) -> dict[str, Any]:
    """The client metadata of a registration or update body, within the configured limits."""
    return validated_client_metadata(
        body, settings.native_redirect_schemes, max_redirect_uris=settings.registration_max_redirect_uris
    )


def too_many_requests(retry_after: int) -> JSONResponse:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": "Too many registrations from this address."},
        status_code=429,
        headers={**NO_STORE, "Retry-After": str(retry_after)},
    )


async def register(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    address = request.client.host if request.client else "unknown"
    decision = await ctx.run(_count_registration, ctx.settings, address)
    if not decision.allowed:
        ctx.metrics.rate_limit_hits.labels("registration").inc()
        return too_many_requests(decision.retry_after_seconds)
    body = await request.body()
    if len(body) > ctx.settings.registration_max_bytes:
        return too_large(ctx.settings)
    try:
        metadata = metadata_of(parse_json_body(body), ctx.settings)
    except OAuth2Error as error:
        return oauth_error_response(error)
    registration = await ctx.run(_register, ctx.settings, metadata, address)
    ctx.metrics.registrations.labels("dynamic").inc()
    information = client_information(
        registration.row, ctx.settings.issuer_url, registration.registration_access_token, registration.client_secret
    )
    return JSONResponse(information, status_code=201, headers=NO_STORE)


def _count_registration(db: Session, settings: Settings, address: str) -> throttle.Decision:
    key = throttle.throttle_key("register", address)
    return throttle.hit(db, key, settings.registration_rate_limit, timedelta(seconds=settings.registration_rate_window))


def _register(db: Session, settings: Settings, metadata: dict[str, Any], address: str) -> Registration:
    pruned = prune_unused(db, timedelta(seconds=settings.unused_client_ttl))
    if pruned:
        audit.record(db, "client.prune", deleted=pruned)
    registration = register_client(db, metadata)
    client_id = registration.row.client_id
    audit.record(db, "client.register", client_id=client_id, address=address, source="dynamic")
    return registration
