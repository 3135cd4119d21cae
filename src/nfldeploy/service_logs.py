"""What ``nfldeploy logs`` shows: the service's log lines from any target, parsed into one shape. Each
target reads its platform's log store (``Target.logs``); the parsing, filtering and polling live here.

The server writes one JSON object per line (``serving/logs.py``): access lines carry ``request_id``,
``path``, ``status`` and ``duration_ms``; others a ``level`` and a ``msg``. Lines that are not such JSON
(a crash's traceback, the platform's own lines) are kept as they are."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class LogQuery:
    """Which lines: newer than ``since``, at least ``level``, of one request, the last ``limit`` of them."""

    since: datetime | None = None
    level: str | None = None
    request_id: str | None = None
    limit: int = 100
    follow: bool = False

    def admits(self, entry: LogEntry) -> bool:
        """The entry passes the level and request filters (the time filter is the source's)."""
        if self.request_id is not None and entry.request_id != self.request_id:
            return False
        if self.level is not None:
            rank = LEVELS.index(entry.level) if entry.level in LEVELS else LEVELS.index("info")
            return rank >= LEVELS.index(self.level)
        return True


@dataclass(frozen=True)
class LogEntry:
    """One line of the service's log, from one revision (Cloud Run), version (Lambda) or container/pod."""

    time: datetime
    revision: str
    level: str
    message: str
    route: str | None = None
    status: int | None = None
    latency_ms: float | None = None
    request_id: str | None = None
    structured: bool = True  # False: the line was not the server's JSON, ``message`` is the line itself

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (time as ISO 8601)."""
        return {**asdict(self), "time": self.time.isoformat()}


def parse_line(text: str, revision: str, received: datetime) -> LogEntry:
    """A log line as an entry; ``received`` is the platform's timestamp, used when the line has none."""
    text = text.rstrip("\n")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return LogEntry(received, revision, "info", text, structured=False)
    when = _time(data.get("ts")) or received
    status = data.get("status")
    latency = data.get("duration_ms")
    return LogEntry(
        when,
        revision,
        str(data.get("level", "info")).lower(),
        str(data.get("msg", "")),
        route=str(data["path"]) if "path" in data else None,
        status=status if isinstance(status, int) else None,
        latency_ms=float(latency) if isinstance(latency, int | float) else None,
        request_id=str(data["request_id"]) if data.get("request_id") else None,
    )


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: a duration back from now (``90s``, ``15m``, ``2h``, ``1d``) or an ISO 8601 time."""
    now = now or datetime.now(UTC)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(text[:-1]) * units[text[-1]])
    parsed = _time(text)
    if parsed is None:
        raise ValueError(f"{text!r} is neither a duration (90s, 15m, 2h, 1d) nor an ISO 8601 time")
    return parsed


def select(entries: Iterable[LogEntry], query: LogQuery) -> list[LogEntry]:
    """The entries the query admits, oldest first, the last ``limit`` of them."""
    admitted = sorted((e for e in entries if query.admits(e)), key=lambda e: e.time)
    return admitted[-query.limit :] if query.limit > 0 else admitted


def admitted(entries: Iterable[LogEntry], query: LogQuery) -> Iterator[LogEntry]:
    """For --follow: the entries the query admits, as they come."""
    return (entry for entry in entries if query.admits(entry))


def parse_stamped(line: str, revision: str) -> LogEntry | None:
    """A ``TIME LINE`` line (``docker logs`` and ``kubectl logs`` with ``--timestamps``) as an entry; None
    when it does not start with a timestamp."""
    stamp, _, text = line.partition(" ")
    try:
        when = rfc3339(stamp)
    except ValueError:
        return None
    return parse_line(text, revision, when)


def rfc3339(text: str) -> datetime:
    """A timestamp as Docker and Kubernetes write them (``2026-11-28T10:00:00.123456789Z``: nanoseconds)."""
    head, dot, rest = text.rstrip("Z").partition(".")
    digits = "".join(ch for ch in rest if ch.isdigit())[:6]
    parsed = datetime.fromisoformat(head + (f".{digits.ljust(6, '0')}" if dot else ""))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def poll(
    fetch: Callable[[datetime | None], list[LogEntry]],
    since: datetime | None,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[LogEntry]:
    """--follow for log stores without a stream (Cloud Logging, CloudWatch Logs): ask for what is newer than
    the last line seen every ``interval`` seconds; a line is never shown twice."""
    seen: set[tuple[datetime, str, str]] = set()
    while True:
        fresh = [
            e for e in fetch(since) if (e.time, e.revision, e.message + (e.request_id or "")) not in seen
        ]
        for entry in sorted(fresh, key=lambda e: e.time):
            seen.add((entry.time, entry.revision, entry.message + (entry.request_id or "")))
            yield entry
        if fresh:
            since = max(e.time for e in fresh)
            seen = {key for key in seen if key[0] >= since}  # only the lines at the boundary can come again
        sleep(interval)


def record_logs(export_dir: Path, target: str, entries: list[LogEntry]) -> None:
    """Keep what a log read found as evidence next to the export (``reports/logs-<target>.json``)."""
    from nfldeploy.records.runs import LogsRead, write_run
    from nfldeploy.records.schema import now

    access = [entry for entry in entries if entry.route is not None]
    read = LogsRead(
        at=now(),
        target=target,
        lines=len(entries),
        access_lines=len(access),
        request_ids=len({entry.request_id for entry in access if entry.request_id}),
    )
    write_run(export_dir, f"logs-{target}", read)
