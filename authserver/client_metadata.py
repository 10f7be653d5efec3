"""Client metadata (RFC 7591 §2): what a client may say about itself, checked once for every source.

Dynamic registration, its updates (RFC 7592) and client ID metadata documents all end here.
Values the client must not choose (``client_id``, secrets, issue times) are never taken from
the request; unknown fields are dropped (RFC 7591 §2 lets the server ignore them).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError, InvalidRedirectURIError

from authserver.redirect_uris import redirect_uri_problem
from shared.settings import OFFLINE_ACCESS, SCOPES

GRANT_TYPES = ("authorization_code", "refresh_token")
RESPONSE_TYPES = ("code",)
AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")
SUPPORTED_SCOPES = (*SCOPES, OFFLINE_ACCESS)
MAX_REDIRECT_URIS = 10
MAX_TEXT_LENGTH = 200
TEXT_FIELDS = ("client_name", "client_uri", "logo_uri", "software_id", "software_version")


def validated_client_metadata(
    body: Any,
    native_schemes: Collection[str] = (),
    auth_methods: Collection[str] = AUTH_METHODS,
    max_redirect_uris: int = MAX_REDIRECT_URIS,
) -> dict[str, Any]:
    """The metadata we store for ``body``, or :class:`InvalidClientMetadataError`/:class:`InvalidRedirectURIError`.

    ``max_redirect_uris`` is the ``registration_max_redirect_uris`` setting for registrations;
    client metadata documents keep the default.
    """
    if not isinstance(body, dict):
        raise InvalidClientMetadataError("The client metadata must be a JSON object.")

    redirect_uris = body.get("redirect_uris")
    if not isinstance(redirect_uris, list) or not redirect_uris or not all(isinstance(u, str) for u in redirect_uris):
        raise InvalidRedirectURIError("'redirect_uris' must be a non-empty array of strings.")
    if len(redirect_uris) > max_redirect_uris:
        raise InvalidRedirectURIError(f"At most {max_redirect_uris} redirect URIs may be registered.")
    for number, uri in enumerate(redirect_uris, start=1):
        if problem := redirect_uri_problem(uri, native_schemes):
            # The URI itself is not echoed: it may hold characters an error description may not.
            raise InvalidRedirectURIError(f"Redirect URI number {number} {problem}.")

    auth_method = body.get("token_endpoint_auth_method", "none")
    if auth_method not in auth_methods:
        raise InvalidClientMetadataError(f"'token_endpoint_auth_method' must be one of: {', '.join(auth_methods)}.")

    grant_types = _string_list(body, "grant_types", ["authorization_code"])
    if not set(grant_types) <= set(GRANT_TYPES) or "authorization_code" not in grant_types:
        raise InvalidClientMetadataError("'grant_types' may hold only authorization_code and refresh_token.")
    response_types = _string_list(body, "response_types", ["code"])
    if response_types != ["code"]:
        raise InvalidClientMetadataError("'response_types' may hold only 'code'.")

    metadata: dict[str, Any] = {
        "redirect_uris": list(dict.fromkeys(redirect_uris)),
        "token_endpoint_auth_method": auth_method,
        "grant_types": list(dict.fromkeys(grant_types)),
        "response_types": response_types,
    }
    if (scope := body.get("scope")) is not None:
        if not isinstance(scope, str) or not set(scope_to_list(scope)) <= set(SUPPORTED_SCOPES):
            raise InvalidClientMetadataError(f"'scope' may hold only: {' '.join(SUPPORTED_SCOPES)}.")
        if scope.strip():
            metadata["scope"] = " ".join(dict.fromkeys(scope_to_list(scope)))
    for field in TEXT_FIELDS:
        value = body.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH or not value.isprintable():
            raise InvalidClientMetadataError(
                f"'{field}' must be a printable string of at most {MAX_TEXT_LENGTH} characters."
            )
        metadata[field] = value.strip()
    return metadata


def _string_list(body: dict[str, Any], field: str, default: list[str]) -> list[str]:
    value = body.get(field, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidClientMetadataError(f"'{field}' must be a non-empty array of strings.")
    return value
