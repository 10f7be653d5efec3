"""Authorization server metadata (RFC 8414), also served as ``openid-configuration``.

The issuer is the configured string byte for byte: clients compare it with the protected
resource metadata and with the ``iss`` of authorization responses, and give up on any drift.
MCP clients refuse to continue without ``code_challenge_methods_supported``, and use client
ID metadata documents only when ``none`` is among the token endpoint's auth methods.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from authserver.client_metadata import AUTH_METHODS, GRANT_TYPES, RESPONSE_TYPES, SUPPORTED_SCOPES
from authserver.endpoints.introspection import INTROSPECTION_AUTH_METHODS
from authserver.endpoints.revocation import REVOCATION_AUTH_METHODS
from shared.settings import Settings

CACHE_CONTROL = "public, max-age=300"


def server_metadata(settings: Settings) -> dict[str, Any]:
    issuer = settings.issuer_url
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "jwks_uri": f"{issuer}/jwks",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": list(RESPONSE_TYPES),
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(REVOCATION_AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(INTROSPECTION_AUTH_METHODS),
        "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True,
    }


async def metadata(request: Request) -> JSONResponse:
    return JSONResponse(server_metadata(request.app.state.ctx.settings), headers={"Cache-Control": CACHE_CONTROL})
