"""The authorization code grant (RFC 6749 §4.1) with our storage and OAuth 2.1 rules.

Codes are stored hashed, bound to client, redirect URI, resource, PKCE challenge and user, and
live at most ``settings.authorization_code_ttl``. Redemption claims the code with one
conditional UPDATE, so of two concurrent redemptions exactly one wins (Authlib's own order,
issue then delete, would let both succeed). Presenting a used code again revokes what was
issued from it (RFC 6749 §4.1.2, RFC 9700 §4.2.4: a replayed code means it leaked): the
client's refresh tokens for that user, and its access tokens through a grant revocation
the MCP server reads (:func:`authserver.revocation.revoke_grant`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, InvalidGrantError, InvalidRequestError, grants
from sqlalchemy import select, update

from authserver import audit
from authserver.clients import mark_used
from authserver.grants.issuing import IssuesOurTokens
from authserver.grants.resource import InvalidTargetError, canonical_resource
from authserver.hashing import new_secret, secret_hash
from authserver.revocation import revoke_grant
from authserver.tokens import GrantBinding
from shared.models import AuthorizationCode, User, utcnow

if TYPE_CHECKING:
    from authserver.server import AuthServer, OAuthRequest


@dataclass(frozen=True)
class IssuedCode(AuthorizationCodeMixin):
    """A stored code as Authlib's grant and PKCE extension read it."""

    row: AuthorizationCode

    @property
    def code_challenge(self) -> str:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str:
        return self.row.code_challenge_method

    def get_redirect_uri(self) -> str:
        # Empty when the request relied on the client's only redirect URI (then /token needn't repeat it).
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope


class AuthorizationCodeGrant(IssuesOurTokens, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    server: AuthServer
    request: OAuthRequest

    # /authorize

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuthRequest, client: Any) -> str:
        """Authlib's check, without echoing the URI into the error (it may hold a quote)."""
        requested = request.payload.redirect_uri
        if requested is not None:
            if not client.check_redirect_uri(requested):
                raise InvalidRequestError("The redirect_uri is not registered for this client.")
            return str(requested)
        default = client.get_default_redirect_uri()
        if not default:
            raise InvalidRequestError("Missing redirect_uri: this client registered several.")
        return str(default)

    def generate_authorization_code(self) -> str:
        return new_secret()

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        assert request.client is not None and request.user is not None and request.resource is not None
        now = utcnow()
        self.server.db.add(
            AuthorizationCode(
                code_hash=secret_hash(code),
                client_id=request.client.client_id,
                user_id=request.user.id,
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.scope or "",
                resource=request.resource,
                code_challenge=request.payload.data["code_challenge"],
                code_challenge_method="S256",
                created_at=now,
                expires_at=now + timedelta(seconds=self.server.ctx.settings.authorization_code_ttl),
            )
        )
        mark_used(self.server.db, request.client.client_id, now)

    # /token

    def query_authorization_code(self, code: str, client: Any) -> IssuedCode | None:
        row = self.server.db.scalars(
            select(AuthorizationCode).where(
                AuthorizationCode.code_hash == secret_hash(code), AuthorizationCode.client_id == client.client_id
            )
        ).one_or_none()
        if row is None or row.expires_at <= utcnow():
            return None
        return IssuedCode(row)

    def validate_token_request(self) -> None:
        super().validate_token_request()  # client, code, redirect_uri, then PKCE (hook)
        code = self.request.authorization_code.row
        resources = self.request.payload.datalist.get("resource", [])
        if len(resources) > 1 or (resources and canonical_resource(resources[0]) != code.resource):
            raise InvalidTargetError("The resource differs from the one the code was issued for.")
        self.request.binding = GrantBinding(resource=code.resource, family_id=code.family_id)

    def create_token_response(self) -> Any:
        self._claim(self.request.authorization_code.row)
        return super().create_token_response()

    def _claim(self, code: AuthorizationCode) -> None:
        db = self.server.db
        now = utcnow()
        claimed = db.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == code.code_hash, AuthorizationCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            # On Postgres the UPDATE above waited for a concurrent winner to commit, so what
            # the winner issued is visible here and revoked too.
            revoke_grant(db, code.user_id, code.client_id, now)
            audit.record(db, "code.replay", user_id=code.user_id, client_id=code.client_id)
            raise InvalidGrantError("The code was already used.")

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing to do: the code was claimed before any token was made."""

    def authenticate_user(self, authorization_code: IssuedCode) -> User | None:
        user = self.server.db.get(User, authorization_code.row.user_id)
        return user if user is not None and user.disabled_at is None else None
