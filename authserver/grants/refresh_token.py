"""The refresh token grant (RFC 6749 §6) with rotation (OAuth 2.1 §4.3.1 for public clients).

Every use returns a new refresh token in the same family and marks the old one rotated; the
old one is claimed with a conditional UPDATE first, so two concurrent uses cannot both win.
The new token keeps the family's absolute expiry, its resource, and at most its scope.
(Reuse detection with a grace window, which revokes the family, is still to come; until then a
rotated token is simply refused.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, TokenMixin, grants
from sqlalchemy import select, update

from authserver.grants.resource import InvalidTargetError, canonical_resource
from authserver.hashing import secret_hash
from authserver.tokens import GrantBinding
from shared.models import RefreshToken, User, utcnow

if TYPE_CHECKING:
    from authserver.server import AuthServer, OAuthRequest


@dataclass(frozen=True)
class RefreshCredential(TokenMixin):
    """A stored refresh token as Authlib's grant reads it."""

    row: RefreshToken

    def check_client(self, client: Any) -> bool:
        return bool(self.row.client_id == client.client_id)

    def get_scope(self) -> str:
        return self.row.scope


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    server: AuthServer
    request: OAuthRequest

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        if len(refresh_token) > 200:
            return None
        row = self.server.db.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == secret_hash(refresh_token))
        ).one_or_none()
        now = utcnow()
        if row is None or row.revoked_at or row.rotated_at or row.expires_at <= now or row.family_expires_at <= now:
            return None
        return RefreshCredential(row)

    def validate_token_request(self) -> None:
        super().validate_token_request()  # client, token ownership, scope can only narrow
        token = self.request.refresh_token.row
        resources = self.request.payload.datalist.get("resource", [])
        if len(resources) > 1 or (resources and canonical_resource(resources[0]) != token.resource):
            raise InvalidTargetError("The resource differs from the one the refresh token was issued for.")
        self.request.binding = GrantBinding(
            resource=token.resource, family_id=token.family_id, family_expires_at=token.family_expires_at
        )

    def create_token_response(self) -> Any:
        claimed = self.server.db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == self.request.refresh_token.row.id,
                RefreshToken.rotated_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(rotated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidGrantError("The refresh token was already used.")
        return super().create_token_response()

    def authenticate_user(self, refresh_token: RefreshCredential) -> User:
        user = self.server.db.get(User, refresh_token.row.user_id)
        if user is None or user.disabled_at is not None:
            raise InvalidGrantError("The account is disabled.")
        return user

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Nothing to do: the old token was marked rotated before the new one was made."""

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
