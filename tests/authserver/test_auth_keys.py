"""Signing keys: encrypted at rest, one active key even when processes start together."""

from __future__ import annotations

import base64
import json
import secrets
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from authserver.keys import KeyConfigurationError, SigningKeys, load_key_encryption_key
from shared.db import make_engine, session_factory
from shared.models import SigningKey
from shared.settings import Settings
from tests.authserver.conftest import RunningServer, create_tables, settings_of
from tests.conftest import Database


def test_private_key_is_stored_encrypted_and_the_kek_file_is_private(auth_server: RunningServer) -> None:
    with auth_server.db() as db:
        row = db.scalars(select(SigningKey).where(SigningKey.state == "active")).one()
    assert row.kid == row.public_jwk["kid"]
    assert b'"d"' not in row.private_key_encrypted and b"PRIVATE" not in row.private_key_encrypted
    kek_file = auth_server.settings.kek_path
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(kek_file.read_text())) == 32


def test_processes_starting_together_create_exactly_one_active_key(database: Database) -> None:
    kek = base64.b64encode(secrets.token_bytes(32)).decode()
    settings = Settings(data_dir=database.data_dir, key_encryption_key=kek, **settings_of(database))
    create_tables(settings)
    starters = 4
    barrier = threading.Barrier(starters)
    kids: list[str] = []
    errors: list[BaseException] = []

    def start_process() -> None:
        # Each "process" has its own engine, so its own connections and transactions.
        engine = make_engine(settings.auth_db_url)
        try:
            keys = SigningKeys(session_factory(engine), settings)
            barrier.wait()
            kids.append(keys.ensure_active_key().kid)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start_process) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert len(set(kids)) == 1 and len(kids) == starters
    engine = make_engine(settings.admin_database_url)
    with session_factory(engine)() as db:
        assert [row.kid for row in db.scalars(select(SigningKey))] == kids[:1]
    engine.dispose()


def test_a_different_kek_is_a_clear_error_not_a_new_key(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, key_encryption_key=base64.b64encode(secrets.token_bytes(32)).decode())
    create_tables(first)
    engine = make_engine(first.auth_db_url)
    SigningKeys(session_factory(engine), first).ensure_active_key()
    other = first.model_copy(update={"key_encryption_key": base64.b64encode(secrets.token_bytes(32)).decode()})

    with pytest.raises(KeyConfigurationError, match="cannot be decrypted"):
        SigningKeys(session_factory(engine), other).ensure_active_key()
    engine.dispose()


def test_kek_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "new-dir")
    kek = load_key_encryption_key(settings)
    assert len(kek) == 32
    assert stat.S_IMODE(settings.kek_path.stat().st_mode) == 0o600
    assert load_key_encryption_key(settings) == kek


def test_malformed_kek_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigurationError, match="32 bytes"):
        load_key_encryption_key(Settings(data_dir=tmp_path, key_encryption_key=base64.b64encode(b"short").decode()))
    with pytest.raises(KeyConfigurationError, match="base64"):
        load_key_encryption_key(Settings(data_dir=tmp_path, key_encryption_key="not base64 at all!"))


def test_public_jwk_in_database_is_public_only(auth_server: RunningServer) -> None:
    with auth_server.db() as db:
        row = db.scalars(select(SigningKey)).first()
    assert row is not None
    assert "d" not in json.loads(json.dumps(row.public_jwk))
