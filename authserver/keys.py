"""Signing keys: generated at first start, rotated by the operator, published as a JWKS.

A key lives through the states ``next → active → retiring → retired``. Exactly one key is
active and signs access tokens. ``next`` and ``retiring`` keys are published too, so resource
servers already know a key before it signs (they cache the JWKS) and still know it until the
last token it signed has expired: a retiring key leaves the JWKS by itself
``access_token_ttl`` (plus a margin) after it stopped signing. :func:`rotate` promotes
``next`` to ``active`` (making one first if there is none), demotes the active key to
``retiring`` and makes a new ``next`` key. Every process looks up the active key's id when it
signs, so a rotation by the CLI takes effect at once in running servers.

Private keys are stored as their private JWK encrypted with AES-256-GCM under a
key-encryption key (KEK) that never enters the database: ``SKILLS_KEY_ENCRYPTION_KEY``, or a
file (``SKILLS_KEY_ENCRYPTION_KEY_FILE``, default ``<data dir>/kek``) created with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey, import_key
from sqlalchemy import and_, false, or_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from authserver import audit
from shared.db import transaction
from shared.models import SigningKey, utcnow
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

PUBLISHED_STATES = ("next", "active", "retiring")
# A retiring key stays published this long beyond access_token_ttl: clock skew between
# processes, and a token signed while a rotation commits.
PUBLISH_MARGIN = timedelta(minutes=5)
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


class KeyStateError(ValueError):
    """An operator request the key lifecycle does not allow (retiring the active key, …)."""


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
            retire_expired(db, self._settings)
            row = _active_row(db)
            if row is None:
                _lock_key_changes(db)
                row = _active_row(db)
            if row is None:
                row = _new_key_row(db, self._kek, self._alg, "active")
                row.activated_at = utcnow()
                audit.record(db, "key.create", target=row.kid, alg=row.alg)
            self._active = ActiveKey(
                row.kid, row.alg, decrypt_private_key(self._kek, row.kid, row.private_key_encrypted)
            )
        return self._active

    def active(self, db: Session | None = None) -> ActiveKey:
        """The key to sign with. With ``db``, the active key's id is read first, so a rotation
        made by another process (the CLI) is followed at once; the decrypted key is cached."""
        if db is None:
            return self._active or self.ensure_active_key()
        row = _active_row(db)
        if row is None:
            return self.ensure_active_key()
        if self._active is None or self._active.kid != row.kid:
            self._active = ActiveKey(
                row.kid, row.alg, decrypt_private_key(self._kek, row.kid, row.private_key_encrypted)
            )
        return self._active

    def derived_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose``, derived from the KEK (HMAC-SHA256 as a KDF)."""
        return hmac.new(self._kek, b"shared-skills derived secret: " + purpose.encode(), hashlib.sha256).digest()

    def published_jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public JWKS: every key that may have signed, or may soon sign, a live token.

        A retiring key whose tokens have all expired leaves the set by itself; the first
        request to notice records the change (:func:`retire_expired`), so it is in the trail.
        """
        now = utcnow()
        with self._sessions() as db:
            rows = list(
                db.scalars(
                    select(SigningKey).where(SigningKey.state.in_(PUBLISHED_STATES)).order_by(SigningKey.created_at)
                )
            )
        expired = [row for row in rows if _expired(row, self._settings, now)]
        if expired:
            with transaction(self._sessions) as db:
                retire_expired(db, self._settings, now)
        published = [row for row in rows if row not in expired]
        return {"keys": [{**row.public_jwk, "kid": row.kid, "alg": row.alg, "use": "sig"} for row in published]}


def _publish_window(settings: Settings) -> timedelta:
    """How long after it stopped signing a key must stay published: until its last token expired."""
    return timedelta(seconds=settings.access_token_ttl) + PUBLISH_MARGIN


def _expired(row: SigningKey, settings: Settings, now: datetime) -> bool:
    """A retiring key past its publish window: every token it signed has expired."""
    return row.state == "retiring" and row.retired_at is not None and row.retired_at <= now - _publish_window(settings)


def retire_expired(session: Session, settings: Settings, now: datetime | None = None) -> list[str]:
    """Mark retiring keys past their publish window ``retired``, each with a ``key.expire`` event.

    No operator asked for this (the key left the JWKS when its last token expired), so the
    trail records it when a process first notices: a JWKS request, a start, a rotation.
    """
    now = now or utcnow()
    window_start = now - _publish_window(settings)
    expired = select(SigningKey).where(SigningKey.state == "retiring", SigningKey.retired_at <= window_start)
    if session.scalars(expired.limit(1)).first() is None:
        return []
    _lock_key_changes(session)  # another process may be recording the same change
    kids = []
    for row in session.scalars(expired.order_by(SigningKey.retired_at)):
        row.state = "retired"
        kids.append(row.kid)
        since = row.retired_at.isoformat() if row.retired_at else None
        audit.record(session, "key.expire", target=row.kid, alg=row.alg, via="automatic", retiring_since=since)
    session.flush()
    if kids:
        log.info("signing keys past their publish window are retired: %s", ", ".join(kids))
    return kids


def _published(settings: Settings, now: datetime) -> Any:
    still_needed = and_(SigningKey.state == "retiring", SigningKey.retired_at > now - _publish_window(settings))
    return select(SigningKey).where(or_(SigningKey.state.in_(("next", "active")), still_needed))


def _active_row(db: Session) -> SigningKey | None:
    return db.scalars(
        select(SigningKey).where(SigningKey.state == "active").order_by(SigningKey.activated_at.desc()).limit(1)
    ).first()


def _new_key_row(db: Session, kek: bytes, alg: str, state: str) -> SigningKey:
    key = generate_key(alg)
    assert key.kid is not None
    row = SigningKey(
        kid=key.kid,
        alg=alg,
        public_jwk={**key.as_dict(private=False), "alg": alg, "use": "sig"},
        private_key_encrypted=encrypt_private_key(kek, key.kid, key),
        state=state,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    log.info("created %s signing key %s (%s)", state, key.kid, alg)
    return row


def _lock_key_changes(db: Session) -> None:
    """Hold a lock until the transaction ends, so only one process creates or rotates keys."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("select pg_advisory_xact_lock(:id)"), {"id": _POSTGRES_LOCK_ID})
    else:
        # SQLite has a single writer: a write that matches no row still takes the write lock,
        # and the other process waits for it (busy_timeout) until this transaction commits.
        db.execute(update(SigningKey).where(false()).values(state=SigningKey.state))


# Operator interface (the CLI) ------------------------------------------------------------------


@dataclass(frozen=True)
class KeySummary:
    kid: str
    alg: str
    state: str  # next | active | retiring | retired
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None


def _summary(row: SigningKey) -> KeySummary:
    return KeySummary(row.kid, row.alg, row.state, row.created_at, row.activated_at, row.retired_at)


def list_keys(session: Session, settings: Settings | None = None) -> list[KeySummary]:
    """Every key, oldest first (a retiring key whose tokens have all expired is shown as retired)."""
    settings = settings or get_settings()
    published = {row.kid for row in session.scalars(_published(settings, utcnow()))}
    summaries = []
    for row in session.scalars(select(SigningKey).order_by(SigningKey.created_at, SigningKey.kid)):
        summary = _summary(row)
        if row.state == "retiring" and row.kid not in published:
            summary = KeySummary(row.kid, row.alg, "retired", row.created_at, row.activated_at, row.retired_at)
        summaries.append(summary)
    return summaries


def rotate(session: Session, settings: Settings, now: datetime | None = None) -> KeySummary:
    """``next`` becomes active (made first if there is none), the active key starts retiring,
    and a new ``next`` key is made. Returns the new active key."""
    now = now or utcnow()
    kek = load_key_encryption_key(settings)
    _lock_key_changes(session)
    retire_expired(session, settings, now)
    promoted = session.scalars(
        select(SigningKey).where(SigningKey.state == "next").order_by(SigningKey.created_at.desc()).limit(1)
    ).first()
    if promoted is None:
        promoted = _new_key_row(session, kek, settings.signing_alg, "next")
    decrypt_private_key(kek, promoted.kid, promoted.private_key_encrypted)  # the KEK must open it
    session.execute(
        update(SigningKey)
        .where(SigningKey.state == "active")
        .values(state="retiring", retired_at=now)
        .execution_options(synchronize_session=False)
    )
    promoted.state, promoted.activated_at = "active", now
    _new_key_row(session, kek, settings.signing_alg, "next")
    session.flush()
    audit.record(session, "key.rotate", target=promoted.kid, alg=promoted.alg)
    log.info("rotated signing keys: %s is active", promoted.kid)
    return _summary(promoted)


def retire(session: Session, kid: str, *, force: bool = False, settings: Settings | None = None) -> None:
    """Stop publishing ``kid``. Never the active key; a retiring key whose tokens may still be
    alive only with ``force`` (those tokens then fail at the resource servers)."""
    row = session.get(SigningKey, kid)
    if row is None:
        raise KeyStateError(f"no signing key {kid}")
    if row.state == "active":
        raise KeyStateError(f"{kid} is the active key: rotate first, then retire it once its tokens expired")
    if row.state == "retiring" and not force:
        settings = settings or get_settings()
        if row.retired_at is not None and row.retired_at > utcnow() - _publish_window(settings):
            raise KeyStateError(f"tokens signed by {kid} may still be valid: wait, or use force")
    row.state = "retired"
    row.retired_at = row.retired_at or utcnow()
    session.flush()
    audit.record(session, "key.retire", target=kid, forced=force)


def keys_older_than(session: Session, days: float) -> bool:
    """Whether the active key was activated more than ``days`` ago (or there is no active key)."""
    row = _active_row(session)
    if row is None:
        return True
    activated = row.activated_at or row.created_at
    return activated < utcnow() - timedelta(days=days)
