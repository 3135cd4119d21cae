"""JSON logs, one object per line, on stdout."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object; extra fields given with ``extra=`` join it."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    """Route every logger (ours and uvicorn's) to one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class _LineJsonFormatter(JsonFormatter):
    """JSON ended by a newline: the runtime client's handlers write the record as formatted (its own text
    format ends with one)."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record) + "\n"


def configure_lambda(level: str = "INFO") -> None:
    """Under Lambda's runtime client (``AWS_LAMBDA_RUNTIME_API`` set), our records in JSON through its own
    handlers, which keep its log sink (one framed record each). Its default text format prints only the
    message and drops the fields given with ``extra=`` (an init failure would say "init failed" without why);
    Lambda's JSON log format (``AWS_LAMBDA_LOG_FORMAT=JSON``) keeps them and is left as it is, as is a level set
    with ``AWS_LAMBDA_LOG_LEVEL``
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html). Elsewhere (the
    handler imported in a test) logging is left alone."""
    if not os.environ.get("AWS_LAMBDA_RUNTIME_API"):
        return
    root = logging.getLogger()
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() != "JSON":
        if root.handlers:
            for handler in root.handlers:
                handler.setFormatter(_LineJsonFormatter())
        else:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(JsonFormatter())
            root.addHandler(handler)
    if not os.environ.get("AWS_LAMBDA_LOG_LEVEL"):
        root.setLevel(level)


class AccessLog:
    """One JSON line per request on stdout, buffered and flushed at least every ``interval`` seconds.

    The logging module's per-record machinery and a write per line cost more than the rest of a request's
    bookkeeping; this writes lines in batches instead.
    """

    def __init__(
        self, stream: Any = None, interval: float = 0.5, max_lines: int = 256, enabled: bool = True
    ) -> None:
        self.stream = stream or sys.stdout  # fixed at start: lines never land in a stream swapped in later
        self.interval, self.max_lines, self.enabled = interval, max_lines, enabled
        self._lines: list[bytes] = []
        self._last_flush = time.monotonic()

    def write(self, entry: dict[str, Any]) -> None:
        """Queue a line; flush when the buffer is full or the interval has passed."""
        if not self.enabled:
            return
        now = time.time()
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
            "level": "info",
            "logger": "nfldeploy.serving.access",
            "msg": "request",
            **entry,
        }
        self._lines.append(orjson.dumps(entry))
        if len(self._lines) >= self.max_lines or time.monotonic() - self._last_flush >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write what is queued."""
        self._last_flush = time.monotonic()
        if not self._lines:
            return
        data, self._lines = b"\n".join(self._lines) + b"\n", []
        stream = self.stream
        try:
            stream.buffer.write(data) if hasattr(stream, "buffer") else stream.write(data.decode())
            stream.flush()
        except (OSError, ValueError):  # stdout closed: the line is lost, the request is not
            pass
