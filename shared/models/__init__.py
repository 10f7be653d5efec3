"""ORM models: the whole schema, one module per area."""

from shared.models.base import Base, utcnow
from shared.models.identity import BrowserSession, LoginThrottle, User
from shared.models.library import (
    ROLES,
    VISIBILITIES,
    IdempotencyKey,
    Invitation,
    Snippet,
    SnippetFile,
    SnippetVersion,
    Workspace,
    WorkspaceMember,
    maintained_by_migrations,
)
from shared.models.oauth import (
    AuthorizationCode,
    AuthorizationRequest,
    Consent,
    GrantRevocation,
    OAuthClient,
    RefreshToken,
    SigningKey,
)
from shared.models.operations import AuditEvent, RateLimit
from shared.models.web import WebSession

__all__ = [
    "ROLES",
    "VISIBILITIES",
    "AuditEvent",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Base",
    "BrowserSession",
    "Consent",
    "GrantRevocation",
    "IdempotencyKey",
    "Invitation",
    "LoginThrottle",
    "OAuthClient",
    "RateLimit",
    "RefreshToken",
    "SigningKey",
    "Snippet",
    "SnippetFile",
    "SnippetVersion",
    "User",
    "WebSession",
    "Workspace",
    "WorkspaceMember",
    "maintained_by_migrations",
    "utcnow",
]
