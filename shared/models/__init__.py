"""ORM models: the whole schema, one module per area."""

from shared.models.base import Base, utcnow
from shared.models.identity import BrowserSession, LoginThrottle, User
from shared.models.library import ROLES, VISIBILITIES, Invitation, Snippet, SnippetVersion, Workspace, WorkspaceMember
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
    "Invitation",
    "LoginThrottle",
    "OAuthClient",
    "RateLimit",
    "RefreshToken",
    "SigningKey",
    "Snippet",
    "SnippetVersion",
    "User",
    "Workspace",
    "WorkspaceMember",
    "utcnow",
]
