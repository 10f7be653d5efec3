"""Token introspection (RFC 7662), for confidential clients about their own tokens.

Only a client that authenticates with its secret may introspect (public clients cannot
keep a credential, so ``none`` is not accepted here), and it learns about its own tokens
only: any other token is ``{"active": false}``, like an unknown, expired or revoked one.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from authserver.context import AuthContext
from authserver.issued_tokens import IssuedToken, find_issued_token
from authserver.server import AuthServer, BadForm, IncomingRequest, oauth_error_response

INTROSPECTION_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class TokenIntrospection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(INTROSPECTION_AUTH_METHODS)
    server: AuthServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_issued_token(self.server.db, self.server.ctx, token_string, token_type_hint)

    def check_permission(self, token: IssuedToken, client: Any, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: IssuedToken) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": token.client_id,
            "sub": str(token.user_id),
            "aud": token.audience,
            "iss": self.server.ctx.settings.issuer_url,
            "exp": token.expires_at,
            "iat": token.issued_at,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
        }
        if token.jti:
            payload["jti"] = token.jti
        return payload


async def introspect(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm as error:
        return oauth_error_response(InvalidRequestError(f"The request body is not valid: {error}."))
    return await ctx.run(_introspect, ctx, incoming)


def _introspect(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    server = AuthServer(ctx, db)
    server.register_endpoint(TokenIntrospection)
    response: Response = server.create_endpoint_response(TokenIntrospection.ENDPOINT_NAME, incoming)
    return response
