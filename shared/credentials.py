"""Where a client command keeps its sign-in: one private file per server URL.

The file holds the client registration, the tokens (a refresh token is as good as a
password), when the access token expires, and the authorization server's metadata, so a
later run can refresh the token without asking the user to sign in again. It lives in
``$XDG_CONFIG_HOME/shared-skills/credentials/`` (default ``~/.config/…``), the directory
mode 0700 and the file mode 0600, and is replaced atomically on every change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata

APP_DIR = "shared-skills"


def config_dir() -> Path:
    """The user's configuration directory for shared-skills (XDG Base Directory rules)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / APP_DIR


def _private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make sure only the user can enter it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


class CredentialsFile:
    """The sign-in for one MCP server URL; implements the SDK's ``TokenStorage`` protocol."""

    def __init__(self, server_url: str, directory: Path | None = None) -> None:
        self.server_url = server_url
        self.directory = directory or config_dir() / "credentials"
        readable = re.sub(r"[^A-Za-z0-9]+", "_", server_url.split("://", 1)[-1]).strip("_")[:60]
        digest = hashlib.sha256(server_url.encode()).hexdigest()[:12]
        self.path = self.directory / f"{readable}-{digest}.json"

    # The stored document -----------------------------------------------------------

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable or damaged: sign in again and overwrite it
        return data if isinstance(data, dict) and data.get("server_url") == self.server_url else {}

    def save(self, **changes: Any) -> None:
        data = {**self.load(), "server_url": self.server_url, **changes}
        _private_dir(self.directory.parent)
        _private_dir(self.directory)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
                json.dump(data, sink, indent=2)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    # TokenStorage ------------------------------------------------------------------

    async def get_tokens(self) -> OAuthToken | None:
        raw = self.load().get("tokens")
        return OAuthToken.model_validate(raw) if raw else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in else None
        self.save(tokens=tokens.model_dump(mode="json", exclude_none=True), expires_at=expires_at)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self.load().get("client_info")
        return OAuthClientInformationFull.model_validate(raw) if raw else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.save(client_info=client_info.model_dump(mode="json", exclude_none=True))

    # What the SDK does not store itself ------------------------------------------------

    def expires_at(self) -> float | None:
        value = self.load().get("expires_at")
        return float(value) if isinstance(value, int | float) else None

    def discovery(self) -> tuple[ProtectedResourceMetadata | None, OAuthMetadata | None]:
        data = self.load()
        try:
            resource = data.get("resource_metadata")
            server = data.get("authorization_server_metadata")
            return (
                ProtectedResourceMetadata.model_validate(resource) if resource else None,
                OAuthMetadata.model_validate(server) if server else None,
            )
        except ValueError:
            return None, None

    def set_discovery(self, resource: ProtectedResourceMetadata | None, server: OAuthMetadata | None) -> None:
        self.save(
            resource_metadata=resource.model_dump(mode="json", exclude_none=True) if resource else None,
            authorization_server_metadata=server.model_dump(mode="json", exclude_none=True) if server else None,
        )
