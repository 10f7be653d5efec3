"""Optional shipping of log records to an HTTP endpoint (``SKILLS_LOG_ENDPOINT``).

A logging handler that never blocks or fails the code that logs: ``emit`` formats the
record as a JSON line and puts it on a bounded in-memory queue without waiting (when
the queue is full the record is dropped and counted); a background thread sends what
has queued in batches, as newline-delimited JSON, with a short timeout. An endpoint
that is down, slow or refusing costs dropped records and a warning on stderr now and
then, never a request.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time

import httpx

from shared.logging import JSONFormatter

# Loggers whose records would feed back into the shipper (its own HTTP client).
NOT_SHIPPED = ("httpx", "httpcore", __name__)


class LogShipper(logging.Handler):
    def __init__(
        self,
        endpoint: str,
        *,
        capacity: int = 10_000,
        batch_size: int = 200,
        interval: float = 1.0,
        timeout: float = 2.0,
    ):
        super().__init__(level=logging.INFO)
        self.endpoint = endpoint
        self.setFormatter(JSONFormatter())
        self.addFilter(lambda record: not record.name.startswith(NOT_SHIPPED))
        self.dropped = 0
        self.sent = 0
        self._queue: queue.Queue[str] = queue.Queue(maxsize=capacity)
        self._batch_size = batch_size
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-shipper", daemon=True)
        self._last_warning = 0.0

    def start(self) -> None:
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait(self.format(record))
        except queue.Full:
            self.dropped += 1
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        """Stop the thread after one last attempt to send what is queued (bounded by the timeout)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._timeout + self._interval + 1)
        super().close()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as http:
            while not self._stop.is_set():
                batch = self._take(block=True)
                if batch:
                    self._send(http, batch)
            if batch := self._take(block=False):
                self._send(http, batch)

    def _take(self, *, block: bool) -> list[str]:
        batch: list[str] = []
        try:
            batch.append(self._queue.get(timeout=self._interval) if block else self._queue.get_nowait())
            while len(batch) < self._batch_size:
                batch.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        return batch

    def _send(self, http: httpx.Client, batch: list[str]) -> None:
        try:
            response = http.post(
                self.endpoint,
                content=("\n".join(batch) + "\n").encode(),
                headers={"Content-Type": "application/x-ndjson"},
            )
            response.raise_for_status()
            self.sent += len(batch)
        except httpx.HTTPError as exc:
            self.dropped += len(batch)
            now = time.monotonic()
            if now - self._last_warning > 60:  # straight to stderr: logging it would queue more of the same
                self._last_warning = now
                print(f"log shipping to {self.endpoint} failed: {type(exc).__name__}", file=sys.stderr)
