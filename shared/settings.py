"""Settings for both servers, read from ``SKILLS_*`` environment variables.

One place for every knob, so the configuration reference can be generated from it.
URLs are kept as plain strings: clients compare issuer and resource byte for byte,
and URL types add trailing slashes.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SCOPES: dict[str, str] = {
    "snippets:read": "Read the snippets you can see",
    "snippets:write": "Create, change, share and delete your snippets",
    "workspaces:write": "Create workspaces and manage their members",
}
"""Scopes the resource server understands, with the words the consent page shows."""

OFFLINE_ACCESS = "offline_access"
WEB_CLIENT_ID = "shared-skills-web"
"""The web library's confidential OAuth client, provisioned by the authorization server at startup."""


def _canonical_url(value: str) -> str:
    """Strip one trailing slash after a path so `…/mcp/` and `…/mcp` are one URL."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    if parts.fragment or parts.query:
        raise ValueError(f"{value!r} must not have a query or fragment")
    return value.rstrip("/")


class Settings(BaseSettings):
    """Every setting of shared-skills; each one is an environment variable ``SKILLS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SKILLS_", env_file=None, extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the SQLite database and generated secrets (created if missing).",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the database used by migrations and the CLI "
            "(`sqlite:///…` or `postgresql://…`). Default: SQLite file `skills.db` in the data directory."
        ),
    )
    auth_database_url: str | None = Field(
        default=None,
        description="Database URL of the authorization server (its own role on Postgres). Default: database_url.",
    )
    mcp_database_url: str | None = Field(
        default=None,
        description="Database URL the MCP server connects with (its own role on Postgres). Default: database_url.",
    )
    postgres_driver: Literal["asyncpg", "psycopg"] = Field(
        default="asyncpg",
        description="Async Postgres driver of the MCP server (chosen by bench/drivers.py).",
    )
    db_auth_role: str = Field(default="skills_auth", description="Postgres login role of the authorization server.")
    db_mcp_role: str = Field(default="skills_mcp", description="Postgres login role of the MCP server.")
    db_auth_password: str | None = Field(default=None, description="Password set on the auth role by migrations.")
    db_mcp_password: str | None = Field(default=None, description="Password set on the MCP role by migrations.")
    db_pool_size: int = Field(default=10, ge=1, description="Connections kept per process.")
    db_pool_overflow: int = Field(
        default=10, ge=0, description="Connections a process may open beyond db_pool_size in a burst (then it waits)."
    )
    db_pool_timeout: float = Field(
        default=5,
        gt=0,
        description="Seconds a request waits for a free pooled connection before it is answered 'unavailable, retry'.",
    )
    db_connect_timeout: float = Field(
        default=5, gt=0, description="Seconds allowed to open a database connection (Postgres)."
    )
    db_statement_timeout: float = Field(
        default=10,
        ge=0,
        description="Postgres `statement_timeout` of the servers' connections, in seconds (0: none).",
    )
    db_lock_timeout: float = Field(
        default=5,
        ge=0,
        description="Postgres `lock_timeout` of the servers' connections, in seconds: a lock wait gives up (0: none).",
    )
    request_timeout: float = Field(
        default=30,
        ge=0,
        description=(
            "Longest an MCP request or an authorization server request may run before it is answered "
            "'unavailable, retry' (503 with Retry-After, or a tool error) instead of hanging (0: no limit)."
        ),
    )
    backup_database_url: str | None = Field(
        default=None,
        description=(
            "Database URL `shared-skills backup` dumps Postgres with: a role that bypasses row-level security "
            "(superuser or BYPASSRLS), or the dump silently misses rows; see docs/backups.md. Default: database_url."
        ),
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Directory of backups made without `--output`. Default: `backups` in the data directory.",
    )

    issuer_url: str = Field(
        default="http://127.0.0.1:9000",
        description="Public URL of the authorization server; the `iss` of every token, compared byte for byte.",
    )
    resource_url: str = Field(
        default="http://127.0.0.1:8000/mcp",
        description="Public URL of the MCP endpoint; the `aud` of its tokens and the URL users connect to.",
    )
    extra_resource_urls: list[str] = Field(
        default_factory=list,
        description="Further resource servers this authorization server issues tokens for (JSON list).",
    )
    auth_host: str = Field(default="127.0.0.1", description="Address the authorization server listens on.")
    auth_port: int = Field(default=9000, description="Port the authorization server listens on.")
    mcp_host: str = Field(default="127.0.0.1", description="Address the MCP server listens on.")
    mcp_port: int = Field(default=8000, description="Port the MCP server listens on.")
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the Prometheus metrics ports listen on (keep it off the public network).",
    )
    auth_metrics_port: int = Field(
        default=0, ge=0, description="Port serving the authorization server's `/metrics` (0: no metrics)."
    )
    mcp_metrics_port: int = Field(
        default=0, ge=0, description="Port serving the MCP server's `/metrics` (0: no metrics)."
    )
    mcp_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host headers the MCP server accepts (DNS-rebinding guard). Default: the resource URL's host.",
    )
    mcp_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins the MCP server accepts from browsers. Default: the resource URL's origin.",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description=(
            'Addresses or networks of your own reverse proxies (JSON list, e.g. `["172.16.0.0/12"]`). Only on '
            "connections from these do both servers take the client address and scheme from `X-Forwarded-For` "
            "and `X-Forwarded-Proto`. Default: none, the headers are ignored. The URLs the servers publish "
            "always come from issuer_url and resource_url, never from request headers."
        ),
    )

    key_encryption_key: str | None = Field(
        default=None,
        description=(
            "Secret that encrypts private signing keys at rest (base64, 32 bytes). "
            "Default: read from key_encryption_key_file."
        ),
    )
    key_encryption_key_file: Path | None = Field(
        default=None,
        description="File holding the key-encryption key. Default: `kek` in the data directory (mode 0600).",
    )
    signing_alg: Literal["ES256", "RS256", "EdDSA"] = Field(
        default="RS256", description="JWS algorithm of access tokens (RS256 verifies fastest here)."
    )
    access_token_ttl: int = Field(default=3600, ge=10, description="Access token lifetime in seconds.")
    refresh_token_ttl: int = Field(default=30 * 86400, ge=3600, description="Refresh token idle lifetime in seconds.")
    authorization_code_ttl: int = Field(
        default=300, ge=30, le=600, description="Authorization code lifetime in seconds."
    )
    jwks_cache_seconds: int = Field(default=300, ge=0, description="How long the MCP server keeps a fetched JWKS.")
    jwks_refetch_cooldown: float = Field(
        default=10, ge=0, description="Least seconds between JWKS refetches caused by unknown key ids."
    )
    refresh_token_family_lifetime: int = Field(
        default=90 * 86400,
        ge=3600,
        description=(
            "Absolute lifetime in seconds of a refresh-token family (one sign-in and all its rotations): "
            "sliding renewals never keep a grant alive longer than this."
        ),
    )
    refresh_token_grace_seconds: int = Field(
        default=60,
        ge=0,
        le=600,
        description=(
            "How long after rotation a refresh token may be presented again (a lost response, two requests "
            "racing): the answer carries the same successor refresh token. Later reuse revokes the grant."
        ),
    )
    native_redirect_schemes: list[str] = Field(
        default_factory=lambda: ["claude", "cursor", "vscode"],
        description=(
            "Private-use URI schemes (RFC 8252 §7.1) clients may register as redirect URIs besides https and "
            "loopback http (JSON list). Any app on a device can claim a scheme: keep the list short."
        ),
    )
    unused_client_ttl: int = Field(
        default=86400,
        ge=60,
        description=(
            "Seconds after which a client registration (dynamic or metadata document) that never obtained an "
            "authorization code is deleted."
        ),
    )
    registration_rate_limit: int = Field(
        default=30, ge=1, description="Client registrations allowed per client address within registration_rate_window."
    )
    registration_rate_window: int = Field(
        default=600, ge=1, description="Window in seconds of the per-address registration limit."
    )
    cimd_allow_loopback: bool = Field(
        default=False,
        description=(
            "Let client metadata documents be fetched from loopback addresses (tests and local development only; "
            "private, link-local and metadata addresses stay refused)."
        ),
    )
    cimd_ca_file: Path | None = Field(
        default=None,
        description="Extra CA certificates (PEM file) trusted when fetching client metadata documents.",
    )
    cimd_cache_min_seconds: int = Field(
        default=300, ge=0, description="Least seconds a fetched client metadata document is kept, whatever its headers."
    )
    cimd_cache_max_seconds: int = Field(
        default=86400, ge=60, description="Longest time a fetched client metadata document is kept before refetching."
    )

    revocation_check_seconds: float = Field(
        default=5,
        ge=0,
        description=(
            "How long the MCP server trusts what it read about a user's revocations (disabled account, "
            "tokens_valid_after, revoked grants); a revoked token stops working within this time. 0: every request."
        ),
    )
    rate_limit_reads_per_minute: int = Field(
        default=120, ge=1, description="Read calls (tools, resources) per user and minute at the MCP server."
    )
    rate_limit_writes_per_minute: int = Field(
        default=30, ge=1, description="Write calls (saving, sharing, deleting, managing members) per user and minute."
    )
    idempotency_key_seconds: int = Field(
        default=86400,
        ge=60,
        description=(
            "How long the MCP server remembers a save_snippet idempotency key: a retry with the same key and "
            "arguments within this time returns the first result instead of saving again."
        ),
    )
    log_endpoint: str | None = Field(
        default=None,
        description=(
            "HTTP(S) URL that receives the MCP server's log records as newline-delimited JSON, in batches, "
            "from a bounded queue in the background: never delays or fails a request (records are dropped "
            "when the endpoint cannot keep up)."
        ),
    )

    mcp_max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description=(
            "Largest request body the MCP endpoint reads, in bytes (larger: 413). Keep it above 2.7 MiB: a "
            "2 MiB supporting file travels base64-encoded."
        ),
    )
    mcp_single_request_path: bool = Field(
        default=True,
        description=(
            "Serve a POST that carries one JSON-RPC request (handshake protocol era) straight to the SDK's "
            "server kernel, without building its streamable HTTP transport per request: same answers, about a "
            "quarter less CPU per call. false: every request goes through the SDK's transport."
        ),
    )
    snippet_max_title: int = Field(default=200, ge=1, description="Longest snippet title, in characters.")
    snippet_max_body: int = Field(
        default=100_000,
        ge=1,
        le=100_000,
        description=(
            "Longest snippet body, in characters (at most 100,000: a skill keeps room for its SKILL.md by that size)."
        ),
    )
    snippet_max_description: int = Field(default=2000, ge=0, description="Longest snippet description, in characters.")
    snippet_max_tags: int = Field(default=20, ge=0, description="Most tags on one snippet (and in one tag filter).")
    snippet_max_tag_length: int = Field(default=40, ge=1, description="Longest tag, in characters.")
    snippet_max_variables: int = Field(
        default=50, ge=0, le=50, description="Most `{{variables}}` in one snippet, declared or inferred (at most 50)."
    )
    variable_max_description: int = Field(
        default=500, ge=0, le=500, description="Longest description of a snippet variable, in characters (at most 500)."
    )
    variable_max_default: int = Field(
        default=10_000,
        ge=0,
        le=10_000,
        description="Longest default value of a snippet variable, in characters (at most 10,000).",
    )
    max_page_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Largest page (the `limit` argument) of list_snippets, list_snippet_versions and search_snippets.",
    )
    auth_max_request_bytes: int = Field(
        default=64 * 1024,
        ge=4 * 1024,
        description="Largest request body the authorization server reads, in bytes (larger: 413).",
    )
    registration_max_bytes: int = Field(
        default=16 * 1024,
        ge=1024,
        description="Largest client registration (or RFC 7592 update) body, in bytes (larger: 413).",
    )
    registration_max_redirect_uris: int = Field(
        default=10, ge=1, description="Most redirect URIs one client may register."
    )

    cookie_secure: bool | None = Field(
        default=None,
        description="Mark the browser session cookie Secure. Default: on unless the issuer is plain-http loopback.",
    )
    login_failures_per_account: int = Field(
        default=10,
        ge=1,
        description=(
            "Failed sign-ins per email address within login_throttle_window before further attempts "
            "get 429 until the window ends (then the right password works again)."
        ),
    )
    login_failures_per_address: int = Field(
        default=50,
        ge=1,
        description=(
            "Failed sign-ins per client address within login_throttle_window. Behind a proxy, list it in "
            "forwarded_allow_ips or every client shares the proxy's address."
        ),
    )
    login_throttle_window: int = Field(
        default=900, ge=1, description="Seconds of the login throttling window (counted from its first failure)."
    )
    password_hash_concurrency: int | None = Field(
        default=None,
        ge=1,
        description=(
            "Password hashes computed at once per process; each holds 19 MiB (argon2id), others queue. "
            "Default: one per CPU the process may run on (more only share a CPU and stall requests)."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    web_path: str = Field(
        default="/library",
        description="Path on the MCP server's origin where the web library is served (no trailing slash).",
    )
    web_client_secret: str | None = Field(
        default=None,
        description=(
            "Client secret of the web library's OAuth client `shared-skills-web`, the same for both servers. "
            "Default: read from web_client_secret_file; with neither, the web library answers 503 saying so."
        ),
    )
    web_client_secret_file: Path | None = Field(
        default=None,
        description=(
            "File holding the web client secret. Default: `web_client_secret` in the data directory "
            "(`shared-skills up` creates it)."
        ),
    )
    web_session_idle_seconds: int = Field(
        default=2 * 3600, ge=60, description="A web library session ends after this many seconds without a request."
    )
    web_session_lifetime_seconds: int = Field(
        default=12 * 3600, ge=300, description="A web library session ends this many seconds after sign-in."
    )

    @field_validator("issuer_url", "resource_url")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return _canonical_url(value)

    @field_validator("web_path")
    @classmethod
    def _web_path(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value) or {".", ".."} & set(value.split("/")):
            raise ValueError(f"{value!r} must be a path like /library")
        return value

    @field_validator("extra_resource_urls")
    @classmethod
    def _canonical_list(cls, value: list[str]) -> list[str]:
        return [_canonical_url(v) for v in value]

    # Derived values ---------------------------------------------------------------

    @cached_property
    def admin_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'skills.db').resolve()}"

    @property
    def backup_db_url(self) -> str:
        return self.backup_database_url or self.admin_database_url

    @property
    def backups_path(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @property
    def auth_db_url(self) -> str:
        return self.auth_database_url or self.admin_database_url

    @property
    def mcp_db_url(self) -> str:
        return self.mcp_database_url or self.admin_database_url

    @property
    def resource_urls(self) -> list[str]:
        """Every resource (audience) this authorization server issues tokens for."""
        return [self.resource_url, *(u for u in self.extra_resource_urls if u != self.resource_url)]

    @property
    def resource_metadata_url(self) -> str:
        """RFC 9728 path-suffixed metadata URL of the resource."""
        parts = urlsplit(self.resource_url)
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        parts = urlsplit(self.issuer_url)
        return not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))

    @property
    def kek_path(self) -> Path:
        return self.key_encryption_key_file or self.data_dir / "kek"

    @property
    def web_secret_path(self) -> Path:
        return self.web_client_secret_file or self.data_dir / "web_client_secret"

    def web_secret(self) -> str | None:
        """The web client's secret: the setting, else the file's first line; None when neither is set."""
        if self.web_client_secret:
            return self.web_client_secret.strip() or None
        try:
            return self.web_secret_path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    @property
    def web_base_url(self) -> str:
        """Public URL of the web library: the MCP server's origin and ``web_path``."""
        parts = urlsplit(self.resource_url)
        return f"{parts.scheme}://{parts.netloc}{self.web_path}"

    @property
    def web_redirect_uri(self) -> str:
        return f"{self.web_base_url}/auth/callback"


def get_settings() -> Settings:
    """Read the settings from the environment (each process reads them once at start)."""
    return Settings()
