"""The refresh token grant (RFC 6749 §6) with rotation, reuse detection and a grace window.

Every use returns a new refresh token in the same family and marks the presented one
rotated; it is claimed with a conditional UPDATE first, so of two concurrent uses one
rotates. The new token keeps the family's resource, its absolute expiry, and at most its
scope (a request may narrow the scope, never widen it).

Presenting a rotated token again (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2):

- within ``refresh_token_grace_seconds`` of its rotation, while its successor is unused:
  the answer is a fresh access token and *the same successor* refresh token (successors are
  derived from their predecessor, :meth:`authserver.tokens.TokenIssuer.successor_of`). A
  client that lost the response, or two requests racing, end with one live refresh token,
  so the family does not fork and a concurrent pair of refreshes is deterministic;
- otherwise (later, or the successor was used already): someone holds a copy. The whole
  grant of that user and client is revoked: every refresh token, and the access tokens via
  :func:`authserver.revocation.revoke_grant`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, TokenMixin, grants
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from authserver import audit
from authserver.clients import mark_used
from authserver.grants.issuing import IssuesOurTokens
from authserver.grants.resource import InvalidTargetError, canonical_resource
from authserver.hashing import secret_hash
from authserver.revocation import revoke_grant
from authserver.tokens import GrantBinding
from shared.models import RefreshToken, User, utcnow

if TYPE_CHECKING:
    from authserver.server import AuthServer, OAuthRequest

MAX_REFRESH_TOKEN_LENGTH = 200
MARK_USED_EVERY = timedelta(minutes=10)
"""How stale a client's ``last_used_at`` may grow before a refresh writes it again."""


@dataclass(frozen=True)
class RefreshCredential(TokenMixin):
    """A stored refresh token as Authlib's grant reads it."""

    row: RefreshToken

    def check_client(self, client: Any) -> bool:
        return bool(self.row.client_id == client.client_id)

    def get_scope(self) -> str:
        return self.row.scope


class RefreshTokenGrant(IssuesOurTokens, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    server: AuthServer
    request: OAuthRequest
    _granted_scope: str | None = None  # the successor's scope, when it is handed out again

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        """The stored token, rotated or not (:meth:`create_token_response` decides); never a revoked or expired one."""
        if len(refresh_token) > MAX_REFRESH_TOKEN_LENGTH:
            return None
        row = _find(self.server.db, refresh_token)
        now = utcnow()
        if row is None or row.revoked_at or row.expires_at <= now or row.family_expires_at <= now:
            return None
        return RefreshCredential(row)

    def validate_token_request(self) -> None:
        super().validate_token_request()  # client, token ownership, scope can only narrow
        token = self.request.refresh_token.row
        resources = self.request.payload.datalist.get("resource", [])
        if len(resources) > 1 or (resources and canonical_resource(resources[0]) != token.resource):
            raise InvalidTargetError("The resource differs from the one the refresh token was issued for.")
        self.request.binding = GrantBinding(
            resource=token.resource,
            family_id=token.family_id,
            family_expires_at=token.family_expires_at,
            refresh_token=self.server.ctx.tokens.successor_of(self.request.form["refresh_token"]),
        )

    def create_token_response(self) -> Any:
        db = self.server.db
        token = self.request.refresh_token.row
        now = utcnow()
        claimed = db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == token.id, RefreshToken.rotated_at.is_(None), RefreshToken.revoked_at.is_(None))
            .values(rotated_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            self._answer_reuse(token, now)
        client_row = getattr(self.request.client, "row", None)  # authserver.clients.Client
        last_used = client_row.last_used_at if client_row is not None else None
        if last_used is None or now - last_used > MARK_USED_EVERY:
            # One row for every user of the client: writing it on each refresh would make all of
            # them wait on its lock in turn (a refresh is otherwise a row of its own user).
            mark_used(db, token.client_id, now)
        return super().create_token_response()

    def _answer_reuse(self, token: RefreshToken, now: datetime) -> None:
        """The token was rotated already: hand out its successor again within the grace window, else revoke."""
        db = self.server.db
        db.refresh(token)  # what a concurrent request committed (the UPDATE above waited for it)
        binding = self.request.binding
        assert binding is not None and binding.refresh_token is not None
        successor = self._unused_successor(token, binding.refresh_token, now)
        if successor is None:
            revoke_grant(db, token.user_id, token.client_id, now)
            audit.record(db, "refresh_token.reuse", user_id=token.user_id, client_id=token.client_id)
            self.server.failure_reason = "refresh_token_reuse"
            raise InvalidGrantError("The refresh token was already used.")
        requested = self.request.payload.scope
        if requested and not set(scope_to_list(requested)) <= set(scope_to_list(successor.scope)):
            raise InvalidScopeError("The scope may only narrow.")
        self._granted_scope = successor.scope
        self.request.binding = replace(binding, refresh_token_stored=True)

    def _unused_successor(self, token: RefreshToken, successor: str, now: datetime) -> RefreshToken | None:
        grace = timedelta(seconds=self.server.ctx.settings.refresh_token_grace_seconds)
        if token.revoked_at is not None or token.rotated_at is None or now - token.rotated_at > grace:
            return None
        row = _find(self.server.db, successor)
        if row is None or row.family_id != token.family_id or row.rotated_at or row.revoked_at:
            return None
        return row

    def issue_token(self, user: User, refresh_token: RefreshCredential) -> dict[str, Any]:
        """Authlib's, except that a repeated answer keeps the successor's scope unless narrowed."""
        scope = self.request.payload.scope or self._granted_scope or refresh_token.get_scope()
        return self.generate_token(user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def authenticate_user(self, refresh_token: RefreshCredential) -> User:
        user = self.server.db.get(User, refresh_token.row.user_id)
        if user is None or user.disabled_at is not None:
            raise InvalidGrantError("The account is disabled.")
        return user

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        """Nothing to do: the old token was marked rotated before the new one was made."""


def _find(db: Session, refresh_token: str) -> RefreshToken | None:
    return db.scalars(select(RefreshToken).where(RefreshToken.token_hash == secret_hash(refresh_token))).one_or_none()
