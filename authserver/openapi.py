"""An OpenAPI 3.1 description of the authorization server's JSON endpoints, served at ``/openapi.json``.

Written by hand from the endpoints, not generated: the endpoints are plain Starlette handlers
and Authlib, so nothing could infer their forms, error codes or statuses. It is checked
against the running server by ``tests/test_schemathesis.py``, which fails when a response
differs from what is written here, and by ``tests/test_openapi.py``, which fails when a JSON
route is missing from it (or it names a route the app does not have).

The browser endpoints (``/authorize``, ``/login``, ``/consent``, ``/account…``) answer with
HTML pages and redirects and are not described here.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from authserver.client_metadata import (
    AUTH_METHODS,
    GRANT_TYPES,
    MAX_TEXT_LENGTH,
    RESPONSE_TYPES,
    SUPPORTED_SCOPES,
    TEXT_FIELDS,
)
from authserver.endpoints.introspection import INTROSPECTION_AUTH_METHODS
from authserver.endpoints.revocation import REVOCATION_AUTH_METHODS
from authserver.server import FORM_CONTENT_TYPE
from shared.settings import Settings

JSON = "application/json"
FORM = FORM_CONTENT_TYPE
METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")

# RFC 6749 §5.2 error codes each endpoint can answer (Authlib's, ours, RFC 8707's invalid_target).
TOKEN_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_target",
)
REVOCATION_ERRORS = ("invalid_request", "invalid_client", "unsupported_token_type")  # also introspection
REGISTRATION_ERRORS = ("invalid_redirect_uri", "invalid_client_metadata")  # RFC 7591 §3.2.2


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


NO_STORE = {"Cache-Control": _header("Never cached.", {"const": "no-store"})}
TOO_LARGE_TEXT = {
    "description": "The body is larger than the server's limit, auth_max_request_bytes (64 KiB by default; "
    "any endpoint).",
    "content": {"text/plain": {"schema": {"type": "string"}}},
}
BASIC_CHALLENGE = {"WWW-Authenticate": _header('`Basic error="invalid_client", …` (RFC 6749 §5.2).')}


REGISTRATION_EXAMPLES = {
    "native": {
        "summary": "A native app with a loopback redirect (any port matches)",
        "value": {
            "client_name": "Claude Code",
            "redirect_uris": ["http://localhost/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        },
    },
    "confidential": {
        "summary": "A web app that authenticates with a secret",
        "value": {
            "client_name": "Team portal",
            "redirect_uris": ["https://portal.example.com/oauth/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "snippets:read offline_access",
        },
    },
}


def _error_schema(codes: tuple[str, ...]) -> dict[str, Any]:
    """An RFC 6749 §5.2 error body limited to ``codes``."""
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"enum": list(codes)},
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
        },
    }


def _client_auth_form(*, public_allowed: bool) -> dict[str, Any]:
    """The body fields of ``client_secret_post`` (and, if allowed, ``none``: the client_id alone)."""
    return {
        "client_id": {
            "type": "string",
            "description": "The client, when it does not authenticate with HTTP Basic"
            + (" (a public client sends only this)." if public_allowed else "."),
        },
        "client_secret": {"type": "string", "description": "`client_secret_post` authentication."},
    }


def _schemas(settings: Settings) -> dict[str, Any]:
    client_metadata_properties: dict[str, Any] = {
        "redirect_uris": {
            "type": "array",
            "minItems": 1,
            "maxItems": settings.registration_max_redirect_uris,
            "items": {"type": "string"},
            "description": "https, http on a loopback host, or a private-use scheme the operator allows.",
        },
        "token_endpoint_auth_method": {"enum": list(AUTH_METHODS), "default": "none"},
        "grant_types": {
            "type": "array",
            "minItems": 1,
            "items": {"enum": list(GRANT_TYPES)},
            "default": ["authorization_code"],
        },
        "response_types": {"type": "array", "items": {"enum": list(RESPONSE_TYPES)}, "default": ["code"]},
        # null counts as absent for the optional free-form fields
        "scope": {
            "type": ["string", "null"],
            "description": f"Space-separated, from: {' '.join(SUPPORTED_SCOPES)}.",
        },
        **{field: {"type": ["string", "null"], "maxLength": MAX_TEXT_LENGTH} for field in TEXT_FIELDS},
    }
    return {
        "ServerMetadata": {
            "type": "object",
            "description": "RFC 8414 authorization server metadata.",
            "required": [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "registration_endpoint",
                "jwks_uri",
                "response_types_supported",
                "grant_types_supported",
                "code_challenge_methods_supported",
                "token_endpoint_auth_methods_supported",
            ],
            "properties": {
                **{
                    name: {"type": "string"}
                    for name in (
                        "issuer",
                        "authorization_endpoint",
                        "token_endpoint",
                        "registration_endpoint",
                        "jwks_uri",
                        "revocation_endpoint",
                        "introspection_endpoint",
                    )
                },
                **{
                    name: {"type": "array", "items": {"type": "string"}}
                    for name in (
                        "scopes_supported",
                        "response_types_supported",
                        "response_modes_supported",
                        "grant_types_supported",
                        "code_challenge_methods_supported",
                        "token_endpoint_auth_methods_supported",
                        "revocation_endpoint_auth_methods_supported",
                        "introspection_endpoint_auth_methods_supported",
                    )
                },
                "authorization_response_iss_parameter_supported": {"const": True},
                "client_id_metadata_document_supported": {"const": True},
            },
        },
        "JWKSet": {
            "type": "object",
            "description": "RFC 7517 JWK Set: the public keys that sign access tokens.",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid", "alg", "use"],
                        "properties": {
                            "kty": {"type": "string"},
                            "kid": {"type": "string"},
                            "alg": {"type": "string"},
                            "use": {"const": "sig"},
                        },
                    },
                }
            },
        },
        "ClientMetadata": {
            "type": "object",
            "description": "RFC 7591 §2 client metadata. Unknown fields are ignored; `client_id`, secrets and "
            "issue times are minted by the server.",
            "required": ["redirect_uris"],
            "properties": client_metadata_properties,
        },
        "ClientUpdate": {
            "type": "object",
            "description": "RFC 7592 §2.2: the full new metadata, naming the client (and its secret, if it has one). "
            "The authentication method cannot change.",
            "required": ["client_id", "redirect_uris"],
            "properties": {
                "client_id": {"type": "string"},
                "client_secret": {"type": "string"},
                **client_metadata_properties,
            },
        },
        "ClientInformation": {
            "type": "object",
            "description": "RFC 7591 §3.2.1 / RFC 7592 §3: the stored metadata and the values the server minted.",
            "required": [
                "client_id",
                "client_id_issued_at",
                "redirect_uris",
                "token_endpoint_auth_method",
                "grant_types",
                "response_types",
                "registration_client_uri",
                "registration_access_token",
            ],
            "properties": {
                "client_id": {"type": "string"},
                "client_id_issued_at": {"type": "integer"},
                "client_secret": {"type": "string", "description": "Only at registration, for confidential clients."},
                "client_secret_expires_at": {"const": 0},
                "registration_client_uri": {"type": "string"},
                "registration_access_token": {"type": "string"},
                **client_metadata_properties,
            },
        },
        "TokenRequest": {
            "type": "object",
            "description": "RFC 6749 §4.1.3 and §6 (with PKCE, RFC 7636, and RFC 8707 `resource`). "
            "Blank values count as absent.",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"enum": list(GRANT_TYPES)},
                "code": {"type": "string", "description": "authorization_code: the code from /authorize."},
                "redirect_uri": {"type": "string", "description": "authorization_code: as sent to /authorize."},
                "code_verifier": {"type": "string", "description": "authorization_code: the PKCE verifier."},
                "refresh_token": {"type": "string", "description": "refresh_token: the token to rotate."},
                "scope": {"type": "string", "description": "refresh_token: may only narrow the grant."},
                "resource": {"type": "string", "description": "RFC 8707: must be the one the grant is bound to."},
                **_client_auth_form(public_allowed=True),
            },
        },
        "TokenResponse": {
            "type": "object",
            "description": "RFC 6749 §5.1; the access token is an RFC 9068 JWT.",
            "required": ["access_token", "token_type", "expires_in", "scope"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "refresh_token": {"type": "string"},
            },
        },
        "TokenError": _error_schema(TOKEN_ERRORS),
        "RevocationRequest": {
            "type": "object",
            "description": "RFC 7009 §2.1.",
            "required": ["token"],
            "properties": {
                "token": {"type": "string"},
                "token_type_hint": {"enum": ["access_token", "refresh_token"]},
                **_client_auth_form(public_allowed=True),
            },
        },
        "RevocationError": _error_schema(REVOCATION_ERRORS),
        "IntrospectionRequest": {
            "type": "object",
            "description": "RFC 7662 §2.1.",
            "required": ["token"],
            "properties": {
                "token": {"type": "string"},
                "token_type_hint": {"enum": ["access_token", "refresh_token"]},
                **_client_auth_form(public_allowed=False),
            },
        },
        "IntrospectionResponse": {
            "type": "object",
            "description": 'RFC 7662 §2.2: `{"active": false}` for any token that is not the caller\'s and live.',
            "required": ["active"],
            "properties": {
                "active": {"type": "boolean"},
                "scope": {"type": "string"},
                "client_id": {"type": "string"},
                "sub": {"type": "string"},
                "aud": {"type": "string"},
                "iss": {"type": "string"},
                "exp": {"type": "integer"},
                "iat": {"type": "integer"},
                "token_type": {"type": "string"},
                "jti": {"type": "string"},
            },
        },
        "IntrospectionError": _error_schema(REVOCATION_ERRORS),
        "RegistrationError": _error_schema(REGISTRATION_ERRORS),
        "RateLimited": _error_schema(("temporarily_unavailable",)),
        "InvalidToken": _error_schema(("invalid_token",)),
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
    }


def _form_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {FORM: {"schema": _ref(schema)}}}


def _client_authenticated(
    summary: str, request: str, ok: dict[str, Any], errors: str, methods: tuple[str, ...]
) -> dict[str, Any]:
    """A POST endpoint with a form body and RFC 6749 §2.3 client authentication."""
    security: list[dict[str, list[str]]] = [{"clientBasic": []}]
    if "none" in methods or "client_secret_post" in methods:
        security.append({})  # credentials (or the public client's id) in the body instead
    return {
        "summary": summary,
        "description": f"Client authentication: {', '.join(methods)}.",
        "security": security,
        "requestBody": _form_body(request),
        "responses": {
            "200": ok,
            "400": _json(_ref(errors), "An RFC 6749 §5.2 error.", NO_STORE),
            "401": _json(
                _ref(errors), "`invalid_client` when HTTP Basic authentication failed.", {**NO_STORE, **BASIC_CHALLENGE}
            ),
            "413": TOO_LARGE_TEXT,
        },
    }


def _registration_too_large() -> dict[str, Any]:
    return {
        "description": "The client metadata is larger than registration_max_bytes (16 KiB by default; JSON), "
        "or the body is larger than the server's limit (plain text).",
        "content": {JSON: {"schema": _ref("RegistrationError")}, "text/plain": {"schema": {"type": "string"}}},
    }


def _paths() -> dict[str, Any]:
    metadata = {
        "get": {
            "summary": "Authorization server metadata (RFC 8414)",
            "security": [],
            "responses": {"200": _json(_ref("ServerMetadata"), "The metadata; the issuer is byte-exact.")},
        }
    }
    invalid_token = _json(
        _ref("InvalidToken"),
        "Unknown client or wrong registration access token (the same answer for both).",
        {**NO_STORE, "WWW-Authenticate": _header('`Bearer error="invalid_token"`.')},
    )
    configuration_security: list[dict[str, list[str]]] = [{"registrationAccessToken": []}]
    client_id_parameter = {"name": "client_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "security": [],
                "responses": {"200": _json(_ref("Health"), "The process serves.")},
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
        **dict.fromkeys(METADATA_PATHS, metadata),
        "/jwks": {
            "get": {
                "summary": "Public signing keys (RFC 7517)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Every key that signs, or signed a still-valid, access token.",
                        "content": {"application/jwk-set+json": {"schema": _ref("JWKSet")}},
                    }
                },
            }
        },
        "/register": {
            "post": {
                "summary": "Dynamic client registration (RFC 7591)",
                "description": "Open to anyone; rate limited per client address. Public clients (`none`) get no "
                "secret.",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref("ClientMetadata"), "examples": REGISTRATION_EXAMPLES}},
                },
                "responses": {
                    "201": _json(_ref("ClientInformation"), "Registered.", NO_STORE),
                    "400": _json(_ref("RegistrationError"), "The metadata is not acceptable.", NO_STORE),
                    "413": _registration_too_large(),
                    "429": _json(
                        _ref("RateLimited"),
                        "Too many registrations from this address.",
                        {**NO_STORE, "Retry-After": _header("Seconds to wait.", {"type": "string"})},
                    ),
                },
            }
        },
        "/register/{client_id}": {
            "parameters": [client_id_parameter],
            "get": {
                "summary": "Read a registration (RFC 7592)",
                "security": configuration_security,
                "responses": {
                    "200": _json(_ref("ClientInformation"), "The registration.", NO_STORE),
                    "401": invalid_token,
                },
            },
            "put": {
                "summary": "Replace a registration's metadata (RFC 7592)",
                "security": configuration_security,
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("ClientUpdate")}}},
                "responses": {
                    "200": _json(_ref("ClientInformation"), "The updated registration.", NO_STORE),
                    "400": _json(_ref("RegistrationError"), "The metadata is not acceptable.", NO_STORE),
                    "401": invalid_token,
                    "413": _registration_too_large(),
                },
            },
            "delete": {
                "summary": "Delete a registration and revoke what it holds (RFC 7592)",
                "security": configuration_security,
                "responses": {"204": {"description": "Deleted."}, "401": invalid_token},
            },
        },
        "/token": {
            "post": _client_authenticated(
                "Token endpoint (RFC 6749 §3.2): authorization_code and refresh_token grants",
                "TokenRequest",
                _json(_ref("TokenResponse"), "Tokens.", NO_STORE),
                "TokenError",
                AUTH_METHODS,
            )
        },
        "/revoke": {
            "post": _client_authenticated(
                "Token revocation (RFC 7009)",
                "RevocationRequest",
                _json(
                    {"type": "object", "maxProperties": 0},
                    "Revoked, or not a token of this client (the same answer).",
                    NO_STORE,
                ),
                "RevocationError",
                REVOCATION_AUTH_METHODS,
            )
        },
        "/introspect": {
            "post": _client_authenticated(
                "Token introspection (RFC 7662), confidential clients about their own tokens",
                "IntrospectionRequest",
                _json(_ref("IntrospectionResponse"), "What the token is, or `active: false`.", NO_STORE),
                "IntrospectionError",
                INTROSPECTION_AUTH_METHODS,
            )
        },
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a server whose issuer is ``settings.issuer_url``."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "shared-skills authorization server",
            "version": "1",
            "description": "The JSON endpoints of the OAuth 2.1 authorization server. The browser endpoints "
            "(/authorize, /login, /consent, /account) are HTML and not described here.",
        },
        "servers": [{"url": settings.issuer_url}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "`client_secret_basic`: the client id and secret (RFC 6749 §2.3.1).",
                },
                "registrationAccessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The registration access token handed out at registration (RFC 7592 §3).",
                },
            },
        },
    }


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(request.app.state.ctx.settings))
