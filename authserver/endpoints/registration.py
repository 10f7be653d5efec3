"""Dynamic client registration (RFC 7591).

Our own small endpoint rather than Authlib's ``ClientRegistrationEndpoint``: that one always
mints a client secret and its default checks accept redirect URIs such as ``http://evil/cb``
or ``javascript:…``. The policy lives in :mod:`authserver.clients`.
"""

from __future__ import annotations

import json

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from authserver.clients import client_metadata_from_request, register_client, registration_response_body
from authserver.context import AuthContext
from authserver.server import oauth_error_response


async def register(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidClientMetadataError("The body must be a JSON object.") from error
        metadata = client_metadata_from_request(body)
    except OAuth2Error as error:
        return oauth_error_response(error)
    row, secret = await ctx.run(register_client, metadata)
    return JSONResponse(registration_response_body(row, secret), status_code=201, headers={"Cache-Control": "no-store"})
