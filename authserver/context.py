"""Everything request handlers share, built once per process by :func:`authserver.app.create_app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

import anyio
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from authserver.keys import SigningKeys
from authserver.sessions import Cookies
from authserver.tokens import TokenIssuer
from authserver.web.pages import Pages
from shared.db import transaction
from shared.metrics import Metrics
from shared.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class AuthContext:
    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    keys: SigningKeys
    tokens: TokenIssuer
    pages: Pages
    cookies: Cookies
    metrics: Metrics = field(default_factory=lambda: Metrics("authserver"))
    # Created in the lifespan: a limiter belongs to the event loop that runs the app.
    password_slots: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(session, …)`` in a worker thread, in one transaction (Authlib and its callbacks are sync)."""

        def work() -> T:
            with transaction(self.db) as session:
                return fn(session, *args, **kwargs)

        return await run_in_threadpool(work)
