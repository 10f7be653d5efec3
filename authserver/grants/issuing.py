"""What every grant shares: tokens come from our issuer, not Authlib's generator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.models import User

if TYPE_CHECKING:
    from authserver.server import AuthServer, OAuthRequest


class IssuesOurTokens:
    """Mixin for Authlib grants: ``aud`` = the RFC 8707 resource, refresh tokens in families."""

    server: AuthServer
    request: OAuthRequest

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert user is not None
        return self.server.issue_token(self.request, user, scope, include_refresh_token)
