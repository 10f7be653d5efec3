"""The web library's OAuth client (``shared-skills-web``), provisioned at every start.

The web library is served by the MCP server and signs people in as an ordinary
confidential client of this server (authorization code with PKCE, ``client_secret_basic``).
Its registration follows the configuration rather than a command: at startup the row is
created or brought up to date with the redirect URI ``<MCP origin><web_path>/auth/callback``
and the hash of the secret both servers share (``SKILLS_WEB_CLIENT_SECRET`` or the
``web_client_secret`` file). Without a secret the client is left out (and an existing one
cannot authenticate: its secret hash is cleared), and the library answers 503 saying why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authserver.context import AuthContext
from authserver.hashing import secret_hash
from shared.models import OAuthClient, utcnow
from shared.settings import SCOPES, WEB_CLIENT_ID, Settings


def web_client_metadata(settings: Settings) -> dict[str, Any]:
    return {
        "client_name": "shared-skills web library",
        "client_uri": settings.web_base_url,
        "redirect_uris": [settings.web_redirect_uri],
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "scope": " ".join(SCOPES),
    }


def ensure_web_client(db: Session, settings: Settings) -> bool:
    """Create or update the web client from the settings; False when no secret is configured."""
    secret = settings.web_secret()
    row = db.get(OAuthClient, WEB_CLIENT_ID)
    if secret is None:
        if row is not None:
            row.client_secret_hash = None  # cannot authenticate until a secret is configured again
        return False
    metadata = web_client_metadata(settings)
    if row is None:
        db.add(
            OAuthClient(
                client_id=WEB_CLIENT_ID,
                client_secret_hash=secret_hash(secret),
                source="operator",
                client_metadata=metadata,
                created_at=utcnow(),
            )
        )
    else:
        row.client_secret_hash = secret_hash(secret)
        row.client_metadata = metadata
        row.source = "operator"
    return True


async def provision_web_client(ctx: AuthContext) -> None:
    """:func:`ensure_web_client` at startup; a replica starting at the same moment may win the insert."""
    try:
        await ctx.run(ensure_web_client, ctx.settings)
    except IntegrityError:
        await ctx.run(ensure_web_client, ctx.settings)
