"""Authlib's ``AuthorizationServer`` on Starlette.

Authlib is synchronous and has no Starlette integration. So each route reads the whole
request on the event loop (:meth:`IncomingRequest.read`), then runs Authlib in a worker
thread with a synchronous SQLAlchemy session; :class:`AuthServer` is built per request around
that session. What Authlib does not do, or does differently from what we need, is changed
here and in ``grants/``:

- the request URI Authlib sees is the public one (issuer + path), not what a TLS proxy forwards;
- blank parameters count as absent (RFC 6749 §3.1);
- every authorization response, errors included, carries ``iss`` (RFC 9207);
- tokens come from :class:`authserver.tokens.TokenIssuer` (``aud`` = the RFC 8707 resource);
- clients are looked up with the unused-registration expiry and the operator's native schemes;
- error descriptions never echo request values (Authlib's may, and then fail on a quote);
- HTTP Basic credentials that are not UTF-8 fail client authentication (Authlib's decoding raises).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc6749.errors import UnsupportedResponseTypeError
from authlib.oauth2.rfc9207 import IssuerParameter
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from authserver.clients import SUPPORTED_SCOPES, Client, find_client
from authserver.context import AuthContext
from authserver.grants.authorization_code import AuthorizationCodeGrant
from authserver.grants.pkce import S256CodeChallenge
from authserver.grants.refresh_token import RefreshTokenGrant
from authserver.grants.resource import ResourceIndicator
from authserver.tokens import GrantBinding
from shared.models import User

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 100


class BadForm(ValueError):
    """The body is not a form we read (wrong content type, or too many fields)."""


# Requests ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request read in full on the event loop, ready to be handled in a worker thread."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: Headers
    cookies: dict[str, str]

    @classmethod
    async def read(cls, request: Request) -> IncomingRequest:
        """Read query, headers, cookies and, for POST, the urlencoded form (size capped by the app)."""
        form: list[tuple[str, str]] = []
        if request.method == "POST":
            body = await request.body()
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if body and content_type != FORM_CONTENT_TYPE:
                raise BadForm(f"the body must be {FORM_CONTENT_TYPE}")
            try:
                form = parse_qsl(
                    body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
                )
            except ValueError as error:
                raise BadForm("too many form fields") from error
        return cls(
            method=request.method,
            path=request.url.path,
            query=request.query_params.multi_items(),
            form=form,
            headers=request.headers,
            cookies=dict(request.cookies),
        )

    def field(self, name: str) -> str | None:
        """The first value of form field ``name``."""
        return next((value for key, value in self.form if key == name), None)


class Parameters(OAuth2Payload):
    """Query or form parameters for Authlib; blank values count as absent (RFC 6749 §3.1)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in items:
            if value != "":
                self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class OAuthRequest(OAuth2Request):
    """The request as Authlib sees it, plus what our extensions learn while validating it."""

    client: Client | None
    user: User | None

    def __init__(self, method: str, uri: str, headers: Headers, query: Parameters, form: Parameters) -> None:
        super().__init__(method, uri, headers=headers)
        self._args = query
        self._form = form
        self.payload = form if method == "POST" else query
        #: the canonical RFC 8707 resource, set by :class:`ResourceIndicator` at /authorize
        self.resource: str | None = None
        #: audience and refresh-token family of the tokens to issue, set by the grants at /token
        self.binding: GrantBinding | None = None

    @property
    def args(self) -> dict[str, str]:
        return self._args.data

    @property
    def form(self) -> dict[str, str]:
        return self._form.data


# Responses ---------------------------------------------------------------------------------


class OAuthResponse(Response):
    """A response whose redirect target Authlib's ``IssuerParameter`` can rewrite."""

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @location.setter
    def location(self, value: str) -> None:
        self.headers["location"] = value


def to_response(status: int, body: Any, headers: list[tuple[str, str]]) -> OAuthResponse:
    """Authlib's ``(status, body, headers)`` triple as a Starlette response."""
    content = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    return OAuthResponse(content, status_code=status, headers=dict(headers))


def oauth_error_response(error: OAuth2Error) -> OAuthResponse:
    """An RFC 6749 §5.2 JSON error, for failures found before Authlib runs."""
    return to_response(*error())


class Issuer(IssuerParameter):
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


# The server --------------------------------------------------------------------------------


def client_secret_basic(query_client: Any, request: OAuthRequest) -> Client | None:
    """Authlib's ``client_secret_basic``, except that credentials which do not decode as UTF-8
    fail authentication (401 ``invalid_client``) instead of raising out of the endpoint (a 500)."""
    try:
        client: Client | None = authenticate_client_secret_basic(query_client, request)
    except UnicodeDecodeError:
        return None
    return client


class AuthServer(AuthorizationServer):
    """Authlib's authorization server bound to one request's database session."""

    def __init__(self, ctx: AuthContext, db: Session) -> None:
        super().__init__(scopes_supported=list(SUPPORTED_SCOPES))
        self.ctx = ctx
        self.db = db
        self.failure_reason: str | None = None  # set by a grant that found more than a bad grant
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(), ResourceIndicator(ctx.settings.resource_urls)]
        )
        self.register_grant(RefreshTokenGrant)
        self.register_extension(Issuer(ctx.settings.issuer_url))
        self.register_client_auth_method("client_secret_basic", client_secret_basic)

    # Authlib's framework hooks

    def query_client(self, client_id: str | None) -> Client | None:
        settings = self.ctx.settings
        return find_client(
            self.db,
            client_id,
            unused_ttl=timedelta(seconds=settings.unused_client_ttl),
            native_schemes=settings.native_redirect_schemes,
        )

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        assert request.binding is not None
        if "refresh_token" in token and not request.binding.refresh_token_stored:
            assert request.client is not None and request.user is not None
            self.ctx.tokens.store_refresh_token(
                self.db,
                token=token["refresh_token"],
                client_id=request.client.client_id,
                user_id=request.user.id,
                scope=token.get("scope", ""),
                binding=request.binding,
            )

    def create_oauth2_request(self, request: IncomingRequest | OAuthRequest) -> OAuthRequest:
        if isinstance(request, OAuthRequest):
            return request
        incoming: IncomingRequest = request  # (mypy cannot narrow: OAuthRequest derives from untyped Authlib)
        # The public URI: behind a TLS proxy the socket sees plain http, and Authlib refuses that.
        query = urlencode(incoming.query)
        uri = self.ctx.settings.issuer_url + incoming.path + (f"?{query}" if query else "")
        return OAuthRequest(
            incoming.method, uri, incoming.headers, Parameters(incoming.query), Parameters(incoming.form)
        )

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("no JSON endpoint runs through Authlib here")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> OAuthResponse:
        return to_response(status, body, headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib announces events here; nothing listens yet (the audit log will)."""

    # Changed behaviour

    def get_authorization_grant(self, request: OAuthRequest) -> Any:
        """Authlib's, except that the error never echoes the raw ``response_type``."""
        for grant_cls, extensions in self._authorization_grants:
            if grant_cls.check_authorization_endpoint(request):
                grant = grant_cls(request, self)
                for extension in extensions or ():
                    extension(grant)
                return grant
        # Redirect the error only to a redirect URI verified for this client (RFC 6749 §4.1.2.1).
        redirect_uri = None
        client = self.query_client(request.payload.client_id)
        if client is not None:
            requested = request.payload.redirect_uri
            if requested is None:
                redirect_uri = client.get_default_redirect_uri()
            elif client.check_redirect_uri(requested):
                redirect_uri = requested
        raise UnsupportedResponseTypeError(
            request.payload.response_type,
            description="Only response_type=code is supported.",
            redirect_uri=redirect_uri,
        )

    def replay_authorization_request(self, params: dict[str, str]) -> OAuthRequest:
        """A stored /authorize request, to validate again and answer once the user decided."""
        uri = f"{self.ctx.settings.issuer_url}/authorize"
        return OAuthRequest("GET", uri, Headers(), Parameters(list(params.items())), Parameters([]))

    def issue_token(
        self, request: OAuthRequest, user: User, scope: str | None, include_refresh_token: bool
    ) -> dict[str, Any]:
        """Authlib's ``generate_token`` with RFC 8707: the audience is the resource the grant is bound to."""
        assert request.client is not None and request.binding is not None
        return self.ctx.tokens.token_response(
            self.db,
            client_id=request.client.client_id,
            user_id=user.id,
            scope=scope or "",
            binding=request.binding,
            include_refresh_token=include_refresh_token,
        )

    def authorization_error_response(self, error: OAuth2Error) -> OAuthResponse:
        """An error redirect to the client; like every authorization response it gets ``iss``."""
        response: OAuthResponse = self.handle_error_response(None, error)
        self.execute_hook("after_create_authorization_response", response)
        return response
