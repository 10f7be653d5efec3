"""Prometheus metrics of one server, in its own registry, served on a separate (loopback) port.

The names and labels are the contract of ``deploy/prometheus/README.md``; every label has a
short, fixed set of values (route templates, never raw paths; no user ids). Each app builds its
own :class:`Metrics`, so app instances (tests run several in one process) never share series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    """``skills_db_pool_in_use``: connections checked out of the server's pool, read at scrape time."""

    def __init__(self, server: str, in_use: Callable[[], int]) -> None:
        self.server, self.in_use = server, in_use

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "skills_db_pool_in_use", "Database connections checked out of the pool", labels=["server"]
        )
        gauge.add_metric([self.server], float(self.in_use()))
        yield gauge


class Metrics:
    """The series one server exposes; ``server`` is ``authserver`` or ``mcpserver``."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("skills_http_requests", "HTTP responses", ["server", "route", "status"], registry=r)
        self.latency = Histogram(
            "skills_http_request_duration_seconds",
            "Time from request to response",
            ["server", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "skills_auth_failures", "Refused authentications", ["server", "reason"], registry=r
        )
        self.tool_calls = Counter("skills_tool_calls", "MCP tool calls", ["tool", "outcome"], registry=r)
        self.rate_limit_hits = Counter(
            "skills_rate_limit_hits", "Requests refused by a rate limit", ["bucket"], registry=r
        )
        self.tokens = Counter("skills_tokens_issued", "Access tokens issued", ["grant"], registry=r)
        self.logins = Counter("skills_logins", "Sign-ins at the login page", ["outcome"], registry=r)
        self.registrations = Counter("skills_client_registrations", "Clients registered", ["kind"], registry=r)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def watch_pool(self, in_use: Callable[[], int]) -> None:
        """Expose the database pool's checked-out connections (``in_use`` is read at each scrape)."""
        self.registry.register(_PoolCollector(self.server, in_use))

    def request(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(self.server, route, str(status)).inc()
        self.latency.labels(self.server, route).observe(seconds)

    def auth_failure(self, reason: str) -> None:
        self.auth_failures.labels(self.server, reason).inc()

    def login(self, outcome: str) -> None:
        """A sign-in ``succeeded`` or ``failed``; a failure is also an ``invalid_credentials`` auth failure."""
        self.logins.labels(outcome).inc()
        if outcome == "failed":
            self.auth_failure("invalid_credentials")

    def start(self, host: str, port: int) -> None:
        """Serve ``/metrics`` on ``host:port`` in a background thread; port 0 serves nothing."""
        if port:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def route_template(routes: Iterable[BaseRoute], scope: Scope) -> str:
    """The template of the route that serves ``scope`` (``/register/{client_id}``), else ``other``."""
    for route in routes:
        match, _ = route.matches(scope)
        if match != Match.NONE:
            path = getattr(route, "path", None)
            if not isinstance(path, str):
                return "other"
            return path + "/{path}" if isinstance(route, Mount) else path
    return "other"


class MetricsMiddleware:
    """Counts and times every HTTP response by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Iterable[BaseRoute]]) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.request(route_template(self.routes(), scope), status, time.perf_counter() - started)
