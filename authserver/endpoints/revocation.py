"""Token revocation (RFC 7009): a client gives up a token it holds.

Public clients authenticate with ``none`` (client id only), confidential ones with their
secret, and a confidential client can never pass as public (Authlib 1.9.6 let it: the
client model allows exactly one method, :meth:`authserver.clients.Client.check_endpoint_auth_method`).

Revoking either kind of token ends the client's grant for that user
(:func:`authserver.revocation.revoke_grant`): its refresh tokens are revoked, and its access
tokens, which are JWTs the MCP server verifies alone, are refused from then on through a
``grant_revocations`` row (RFC 7009 §2.1 lets revoking one token revoke the others of the
same grant). A token that is not ours, or belongs to another client, gets the same 200 as a
revoked one and changes nothing: the answer is no oracle for other clients' tokens.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from authserver.context import AuthContext
from authserver.issued_tokens import IssuedToken, find_issued_token
from authserver.revocation import revoke_grant
from authserver.server import AuthServer, BadForm, IncomingRequest, oauth_error_response

REVOCATION_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post")


class TokenRevocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(REVOCATION_AUTH_METHODS)
    server: AuthServer

    def authenticate_token(self, request: Any, client: Any) -> IssuedToken | None:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        return token if token is not None and token.check_client(client) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        return find_issued_token(self.server.db, self.server.ctx, token_string, token_type_hint)

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        revoke_grant(self.server.db, token.user_id, token.client_id)


async def revoke(request: Request) -> Response:
    ctx: AuthContext = request.app.state.ctx
    try:
        incoming = await IncomingRequest.read(request)
    except BadForm as error:
        return oauth_error_response(InvalidRequestError(f"The request body is not valid: {error}."))
    return await ctx.run(_revoke, ctx, incoming)


def _revoke(db: Session, ctx: AuthContext, incoming: IncomingRequest) -> Response:
    server = AuthServer(ctx, db)
    server.register_endpoint(TokenRevocation)
    response: Response = server.create_endpoint_response(TokenRevocation.ENDPOINT_NAME, incoming)
    return response
