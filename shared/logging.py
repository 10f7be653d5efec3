"""Logging setup shared by both servers: one line of JSON per record on stderr.

Every record logged while an HTTP request is handled carries that request's ``request_id``
(:mod:`shared.request_ids`). ``SKILLS_LOG_LEVEL`` sets the level of our loggers and
uvicorn's; the libraries in :data:`PAYLOAD_LOGGERS` stay at INFO or above whatever the
level, because at DEBUG they write what passes through them (SQL parameters, JSON-RPC
messages, token responses), and uvicorn's access line drops the query string: logs never
hold bodies, passwords, codes or tokens.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from shared.request_ids import current_request_id

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

PAYLOAD_LOGGERS = ("aiosqlite", "asyncpg", "authlib", "httpcore", "hpack", "mcp", "multipart", "python_multipart")
"""Libraries whose DEBUG records carry payloads (SQL parameters, messages, headers, form fields)."""


class JSONFormatter(logging.Formatter):
    """Records as JSON objects; extra fields passed with ``extra=`` become keys, and the request id is added."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(
            {
                k: v
                for k, v in record.__dict__.items()
                if k not in _STANDARD and not k.startswith("_") and k not in ("color_message", "request_id")
            }
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class AccessPathWithoutQuery(logging.Filter):
    """uvicorn's access line names the path without its query string, which can carry authorization
    codes, ``state`` and pending-request handles."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].partition("?")[0], *args[3:])
        return True


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr at ``level``, uvicorn's loggers included (run uvicorn with ``log_config=None``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
        logging.getLogger(name).setLevel(level)
    access = logging.getLogger("uvicorn.access")
    access.filters[:] = [f for f in access.filters if not isinstance(f, AccessPathWithoutQuery)]
    access.addFilter(AccessPathWithoutQuery())
    floor = max(logging.INFO, logging.getLevelName(level))
    for name in PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(floor)
