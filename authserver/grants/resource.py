"""Resource indicators (RFC 8707), which Authlib lacks.

The client names the resource server it wants a token for; it must be one this
authorization server serves. The code remembers it, and the token's ``aud`` is that resource.
A trailing slash is ignored, since some clients add one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown or malformed."""

    error = "invalid_target"


def canonical_resource(value: str) -> str:
    return value[:-1] if value.endswith("/") else value


def requested_resource(datalist: dict[str, list[str]], known: list[str]) -> str | None:
    """The one canonical resource requested, None if none was, or :class:`InvalidTargetError`."""
    values = datalist.get("resource", [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidTargetError("Request a token for one resource at a time.")
    resource = canonical_resource(values[0])
    if resource not in known:
        raise InvalidTargetError("The resource is not served by this authorization server.")
    return resource


class ResourceIndicator:
    """Grant extension for /authorize: validates ``resource`` (default: the first configured one)."""

    def __init__(self, resource_urls: list[str]) -> None:
        self.resource_urls = resource_urls

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.validate_resource)

    def validate_resource(self, grant: Any, result: Any) -> None:
        request = grant.request
        request.resource = requested_resource(request.payload.datalist, self.resource_urls) or self.resource_urls[0]
