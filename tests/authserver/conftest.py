"""A real authorization server: uvicorn on a loopback port, SQLite in a temp dir.

The browser and OAuth client that drive it are in ``auth_browser.py``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from authserver.app import create_app
from authserver.users import create_user
from shared.db import make_engine, session_factory, transaction
from shared.schema import upgrade
from shared.settings import Settings
from tests.authserver.auth_browser import EMAIL, OTHER_RESOURCE, PASSWORD, RESOURCE
from tests.conftest import Database


def create_tables(settings: Settings) -> None:
    """The schema, through the migrations (as ``authserver db upgrade`` does)."""
    upgrade(settings)


@dataclass
class RunningServer:
    settings: Settings
    db: sessionmaker[Session]
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def issuer(self) -> str:
        return self.settings.issuer_url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.db.kw["bind"].dispose()


def settings_of(database: Database) -> dict[str, str]:
    """The database settings of a ``database`` fixture, as keyword arguments of ``Settings``."""
    return {k.removeprefix("SKILLS_").lower(): v for k, v in database.env.items() if k != "SKILLS_DATA_DIR"}


def start_server(data_dir: Path, **overrides: Any) -> RunningServer:
    """Start uvicorn in a thread on a socket bound beforehand (no port race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # Every test registers clients from 127.0.0.1: only tests of the limit itself set a low one.
    overrides.setdefault("registration_rate_limit", 1_000_000)
    settings = Settings(
        data_dir=data_dir,
        issuer_url=f"http://127.0.0.1:{port}",
        resource_url=RESOURCE,
        extra_resource_urls=[OTHER_RESOURCE],
        **overrides,
    )
    create_tables(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the authorization server did not start")
        time.sleep(0.02)
    engine = make_engine(settings.admin_database_url)
    return RunningServer(settings, session_factory(engine), server, thread)


@pytest.fixture(scope="session")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the session; tests register their own clients, so they do not interfere."""
    running = start_server(tmp_path_factory.mktemp("authserver"))
    with transaction(running.db) as db:
        create_user(db, EMAIL, PASSWORD, "Alice")
        create_user(db, "bob@example.com", PASSWORD, "Bob")
    yield running
    running.stop()


@pytest.fixture
def http(auth_server: RunningServer) -> Iterator[httpx.Client]:
    """A fresh browser-and-client: its own cookie jar, redirects followed by hand."""
    with httpx.Client(base_url=auth_server.issuer, follow_redirects=False, timeout=10) as client:
        yield client
