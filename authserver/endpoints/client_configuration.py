"""Client configuration (RFC 7592): read, update or delete a registration at its ``registration_client_uri``.

Authenticated by the registration access token handed out at registration (stored hashed,
compared in constant time). An unknown client and a wrong token get the same 401, so the
endpoint does not tell which client ids exist. An update is validated like a registration;
it may not change the client's authentication method (a public client never gains a
secret this way, a confidential one never loses it). Deleting a client revokes what it holds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authserver import audit
from authserver.clients import delete_client, find_client
from authserver.context import AuthContext
from authserver.endpoints.registration import NO_STORE, client_information, metadata_of, parse_json_body, too_large
from authserver.hashing import matches_hash
from authserver.server import oauth_error_response


def invalid_token() -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_token", "error_description": "Unknown client or wrong registration access token."},
        status_code=401,
        headers={**NO_STORE, "WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def client_configuration(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    token = bearer_token(request)
    if token is None or len(token) > 200:
        return invalid_token()
    body: Any = None
    if request.method == "PUT":
        raw = await request.body()
        if len(raw) > ctx.settings.registration_max_bytes:
            return too_large(ctx.settings)
        try:
            body = parse_json_body(raw)
        except OAuth2Error as error:
            return oauth_error_response(error)
    address = request.client.host if request.client else "unknown"
    return await ctx.run(_configure, ctx, request.method, request.path_params["client_id"], token, body, address)


def _configure(
    db: Session, ctx: AuthContext, method: str, client_id: str, token: str, body: Any, address: str
) -> Response:
    settings = ctx.settings
    client = find_client(db, client_id, unused_ttl=timedelta(seconds=settings.unused_client_ttl))
    if client is None or not matches_hash(token, client.row.registration_token_hash):
        return invalid_token()
    row = client.row
    if method == "DELETE":
        delete_client(db, client_id)
        audit.record(db, "client.delete", client_id=client_id, address=address, via="registration_endpoint")
        return Response(status_code=204, headers=NO_STORE)
    if method == "PUT":
        try:
            metadata = _updated_metadata(row.client_secret_hash, client_id, body, ctx)
            if metadata["token_endpoint_auth_method"] != client.token_endpoint_auth_method:
                raise InvalidClientMetadataError("'token_endpoint_auth_method' cannot change: register a new client.")
        except OAuth2Error as error:
            return oauth_error_response(error)
        changed = sorted(k for k in {*row.client_metadata, *metadata} if row.client_metadata.get(k) != metadata.get(k))
        row.client_metadata = metadata
        db.flush()
        # The names of the fields that changed (redirect URIs, name, …), never their values.
        audit.record(
            db, "client.update", client_id=client_id, address=address, via="registration_endpoint", changed=changed
        )
    return JSONResponse(client_information(row, settings.issuer_url, token), headers=NO_STORE)


def _updated_metadata(secret_hash: str | None, client_id: str, body: Any, ctx: AuthContext) -> dict[str, Any]:
    """RFC 7592 §2.2: the full new metadata, naming the client, and its secret if it sends one."""
    if not isinstance(body, dict) or body.get("client_id") != client_id:
        raise InvalidClientMetadataError("The request must name this client's client_id.")
    secret = body.get("client_secret")
    if secret is not None and (not isinstance(secret, str) or not matches_hash(secret, secret_hash)):
        raise InvalidClientMetadataError("The client_secret does not match.")
    return metadata_of(body, ctx.settings)
