"""Logging: one handler on the root logger, request ids in every record, text or JSON lines.

* :data:`request_id` is set by :class:`~.middleware.RequestObservability` for the duration of
  a request; :class:`RequestIdFilter` (on the handler, so it sees every propagated record,
  whatever its logger) copies it into ``record.request_id``. A warning or a traceback logged
  while a request is handled therefore names the request that caused it.
* ``LOG_FORMAT=text`` (default): ``time LEVEL logger: message``, then ``request_id=…`` at the
  end of the first line when there is one. ``LOG_FORMAT=json``: one JSON object per line with
  ``time``, ``level``, ``logger``, ``message``, ``request_id`` (null outside requests), the
  access-log fields on access lines, and ``exception`` (the traceback) when there is one.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]

request_id: ContextVar[str | None] = ContextVar("honcho_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps the current request's id (or None) on every record the handler sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with ``request_id=…`` appended while a request is handled."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        rid = getattr(record, "request_id", None)
        return f"{line} request_id={rid}" if rid else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line (newlines inside the message are escaped, never split)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        access = getattr(record, "access", None)
        if isinstance(access, dict):
            entry.update(access)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _HonchoHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our root handler (recognised so configuring twice replaces it instead of adding one)."""


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Install the root handler (stderr) with the request-id filter and the chosen format.

    Idempotent: a previous handler of ours is replaced; other handlers are left alone.
    Also called in each ``serve --workers N`` process (they are spawned, not forked).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _HonchoHandler)]:
        root.removeHandler(old)
    handler = _HonchoHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
