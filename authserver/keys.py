"""Signing keys: generated at first start, private parts encrypted at rest, published as a JWKS.

A key lives through the states ``next → active → retiring → retired``. Exactly one key is
active and signs access tokens; ``next`` and ``retiring`` keys are published too, so resource
servers already know a key before it signs and still know it until its last token expired.
(Rotation itself comes later; today the first active key is made at start.)

Private keys are stored as their private JWK encrypted with AES-256-GCM under a
key-encryption key (KEK) that never enters the database: ``SKILLS_KEY_ENCRYPTION_KEY``, or a
file (``SKILLS_KEY_ENCRYPTION_KEY_FILE``, default ``<data dir>/kek``) created with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key
from sqlalchemy import false, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import transaction
from shared.models import SigningKey, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)

PUBLISHED_STATES = ("next", "active", "retiring")
_BLOB_VERSION = b"\x01"
_NONCE_BYTES = 12
# Any constant works; it names the advisory lock that serialises key creation on Postgres.
_POSTGRES_LOCK_ID = 0x736B696C6C73  # "skills"

JoseKey: TypeAlias = RSAKey | ECKey | OKPKey


class KeyConfigurationError(RuntimeError):
    """The key-encryption key is missing, malformed, or does not open the stored keys."""


# Key-encryption key ----------------------------------------------------------------------


def load_key_encryption_key(settings: Settings) -> bytes:
    """The 32-byte KEK from the settings, or from its file (created on first use)."""
    if settings.key_encryption_key:
        return _decode_kek(settings.key_encryption_key, "SKILLS_KEY_ENCRYPTION_KEY")
    path = settings.kek_path
    if not path.exists():
        _create_kek_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("key-encryption key file %s is readable by others (mode %o); use chmod 600", path, mode)
    return _decode_kek(path.read_text(encoding="ascii"), str(path))


def _decode_kek(value: str, source: str) -> bytes:
    try:
        key = base64.b64decode(value.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as error:
        raise KeyConfigurationError(f"{source} is not base64") from error
    if len(key) != 32:
        raise KeyConfigurationError(f"{source} must hold 32 bytes (base64), not {len(key)}")
    return key


def _create_kek_file(path: Path) -> None:
    """Write a new KEK with mode 0600; if another process wins the race, keep its file.

    The key is written to a private temporary file and then hard-linked into place, so a
    reader never sees a half-written file and two processes never both succeed.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
            log.info("generated a new key-encryption key in %s", path)
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)


# Keys --------------------------------------------------------------------------------------


def generate_key(alg: str) -> JoseKey:
    """A new private key for ``alg``; its ``kid`` is the RFC 7638 thumbprint."""
    if alg == "RS256":
        return RSAKey.generate_key(2048, auto_kid=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", auto_kid=True)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", auto_kid=True)
    raise KeyConfigurationError(f"unsupported signing algorithm {alg!r}")


def encrypt_private_key(kek: bytes, kid: str, key: JoseKey) -> bytes:
    """``version || nonce || AES-GCM(private JWK)``, bound to ``kid`` so rows cannot be swapped."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    plaintext = json.dumps(key.as_dict(private=True)).encode()
    return _BLOB_VERSION + nonce + AESGCM(kek).encrypt(nonce, plaintext, _aad(kid))


def decrypt_private_key(kek: bytes, kid: str, blob: bytes) -> JoseKey:
    if blob[:1] != _BLOB_VERSION:
        raise KeyConfigurationError(f"signing key {kid}: unknown encryption format")
    nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        plaintext = AESGCM(kek).decrypt(nonce, ciphertext, _aad(kid))
    except InvalidTag as error:
        raise KeyConfigurationError(
            f"signing key {kid} cannot be decrypted: the key-encryption key is not the one it was stored with"
        ) from error
    key = import_key(json.loads(plaintext))
    assert isinstance(key, RSAKey | ECKey | OKPKey)
    return key


def _aad(kid: str) -> bytes:
    return b"shared-skills signing key " + kid.encode()


@dataclass(frozen=True)
class ActiveKey:
    """The key that signs access tokens now."""

    kid: str
    alg: str
    key: JoseKey

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        header = {"alg": self.alg, "typ": typ, "kid": self.kid}
        # A one-key set: joserfc picks a random matching key from a larger set.
        return jwt.encode(header, claims, KeySet([self.key]), algorithms=[self.alg])


class SigningKeys:
    """The signing keys of this authorization server, read from and kept in the database."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._alg = settings.signing_alg
        self._kek_value: bytes | None = None
        self._active: ActiveKey | None = None

    @property
    def _kek(self) -> bytes:
        # Read at first use (the lifespan), not at import or app construction.
        if self._kek_value is None:
            self._kek_value = load_key_encryption_key(self._settings)
        return self._kek_value

    def ensure_active_key(self) -> ActiveKey:
        """Load the active key, creating the first one if there is none (safe against races).

        Two processes starting at once both find no key. Creation therefore runs under the
        database's lock, so the second one waits, then finds and uses the first one's key.
        """
        with transaction(self._sessions) as db:
            row = _active_row(db)
            if row is None:
                _lock_key_creation(db)
                row = _active_row(db)
            if row is None:
                key = generate_key(self._alg)
                assert key.kid is not None
                public = {**key.as_dict(private=False), "alg": self._alg, "use": "sig"}
                row = SigningKey(
                    kid=key.kid,
                    alg=self._alg,
                    public_jwk=public,
                    private_key_encrypted=encrypt_private_key(self._kek, key.kid, key),
                    state="active",
                    activated_at=utcnow(),
                )
                db.add(row)
                log.info("created signing key %s (%s)", key.kid, self._alg)
            self._active = ActiveKey(
                row.kid, row.alg, decrypt_private_key(self._kek, row.kid, row.private_key_encrypted)
            )
        return self._active

    def active(self) -> ActiveKey:
        """The key to sign with (loaded at start)."""
        return self._active or self.ensure_active_key()

    def published_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWKS: every key that may have signed, or may soon sign, a live token."""
        with self._sessions() as db:
            rows = db.scalars(
                select(SigningKey).where(SigningKey.state.in_(PUBLISHED_STATES)).order_by(SigningKey.created_at)
            )
            return {"keys": [{**row.public_jwk, "kid": row.kid, "alg": row.alg, "use": "sig"} for row in rows]}


def _active_row(db: Session) -> SigningKey | None:
    return db.scalars(
        select(SigningKey).where(SigningKey.state == "active").order_by(SigningKey.activated_at.desc()).limit(1)
    ).first()


def _lock_key_creation(db: Session) -> None:
    """Hold a lock until the transaction ends, so only one process creates the first key."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("select pg_advisory_xact_lock(:id)"), {"id": _POSTGRES_LOCK_ID})
    else:
        # SQLite has a single writer: a write that matches no row still takes the write lock,
        # and the other process waits for it (busy_timeout) until this transaction commits.
        db.execute(update(SigningKey).where(false()).values(state=SigningKey.state))
