"""Parsing, filtering and following the service's log lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nfldeploy.service_logs import (
    LogEntry,
    LogQuery,
    parse_line,
    parse_since,
    parse_stamped,
    poll,
    rfc3339,
    select,
)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def _access(request_id: str, status: int = 200, ts: str = "2026-11-28T11:59:00.250Z") -> str:
    return json.dumps(
        {
            "ts": ts,
            "level": "info",
            "logger": "nfldeploy.serving.access",
            "msg": "request",
            "request_id": request_id,
            "method": "POST",
            "path": "/predict",
            "status": status,
            "duration_ms": 6.25,
        }
    )


def test_an_access_line_becomes_a_row() -> None:
    entry = parse_line(_access("abc") + "\n", "r1", NOW)
    assert (entry.route, entry.status, entry.latency_ms, entry.request_id) == ("/predict", 200, 6.25, "abc")
    assert entry.time == datetime(2026, 11, 28, 11, 59, 0, 250000, tzinfo=UTC)  # the line's own time
    assert entry.structured and entry.revision == "r1"


def test_other_lines_are_kept_as_they_are() -> None:
    text = parse_line("Traceback (most recent call last):", "r2", NOW)
    assert (text.message, text.structured, text.time, text.level) == (
        "Traceback (most recent call last):",
        False,
        NOW,
        "info",
    )
    warning = parse_line(json.dumps({"level": "warning", "msg": "slow", "ts": "not a time"}), "r2", NOW)
    assert (warning.level, warning.message, warning.time, warning.route) == ("warning", "slow", NOW, None)
    assert parse_line("[1, 2]", "r2", NOW).structured is False  # JSON, but not the server's object


def test_since() -> None:
    assert parse_since("90s", NOW) == NOW - timedelta(seconds=90)
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("1.5d", NOW) == NOW - timedelta(hours=36)
    assert parse_since("2026-11-28T10:00:00Z", NOW) == datetime(2026, 11, 28, 10, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("yesterday", NOW)


def test_docker_and_kubernetes_timestamps_carry_nanoseconds() -> None:
    assert rfc3339("2026-11-28T10:00:00.123456789Z") == datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)
    assert rfc3339("2026-11-28T10:00:00Z") == datetime(2026, 11, 28, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        rfc3339("garbage")


def test_a_stamped_line_takes_the_platforms_time_when_it_has_none() -> None:
    plain = parse_stamped("2026-11-28T10:00:00.5Z Traceback (most recent call last):", "r3")
    assert plain is not None
    assert (plain.time, plain.message, plain.revision) == (
        datetime(2026, 11, 28, 10, 0, 0, 500000, tzinfo=UTC),
        "Traceback (most recent call last):",
        "r3",
    )
    own = parse_stamped("2026-11-28T10:00:00Z " + _access("x"), "r3")
    assert own is not None and own.time == datetime(2026, 11, 28, 11, 59, 0, 250000, tzinfo=UTC)
    assert parse_stamped("no timestamp here", "r3") is None


def _entries() -> list[LogEntry]:
    return [
        parse_line(_access("b", ts="2026-11-28T11:00:02Z"), "r1", NOW),
        parse_line(_access("a", ts="2026-11-28T11:00:01Z"), "r1", NOW),
        parse_line(
            json.dumps({"level": "error", "msg": "model failed", "ts": "2026-11-28T11:00:03Z"}), "r2", NOW
        ),
        parse_line(_access("a", 503, ts="2026-11-28T11:00:04Z"), "r2", NOW),
    ]


def test_select_orders_filters_and_keeps_the_last_lines() -> None:
    assert [e.request_id for e in select(_entries(), LogQuery(limit=10))] == ["a", "b", None, "a"]
    assert [e.request_id for e in select(_entries(), LogQuery(limit=2))] == [None, "a"]  # the newest two
    one = select(_entries(), LogQuery(request_id="a"))
    assert [(e.revision, e.status) for e in one] == [("r1", 200), ("r2", 503)]  # across revisions
    assert [e.message for e in select(_entries(), LogQuery(level="warning"))] == ["model failed"]


def test_follow_polls_and_never_shows_a_line_twice() -> None:
    first, second = _entries()[1], _entries()[0]
    answers = [[first], [first, second], [second], []]
    asked: list[datetime | None] = []

    def fetch(since: datetime | None) -> list[LogEntry]:
        asked.append(since)
        return answers[len(asked) - 1]

    def sleep(_: float) -> None:
        if len(asked) == len(answers):
            raise KeyboardInterrupt

    seen = []
    with pytest.raises(KeyboardInterrupt):
        for entry in poll(fetch, None, sleep=sleep):
            seen.append(entry.request_id)
    assert seen == ["a", "b"]
    assert asked == [None, first.time, second.time, second.time]  # each poll asks from the last line seen


def test_logs_keep_request_ids_whole_on_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow terminal gets one line per entry (a table would break the 32-character id), a wide one the
    table."""
    from datetime import UTC, datetime

    from rich.console import Console

    from nfldeploy.cli import logs_cmd
    from nfldeploy.service_logs import LogEntry

    request_id = "5f0c1e9a2b7d4c3e8a6f1b2d3c4e5f60"
    rows = [
        LogEntry(
            datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
            "nfldeploy-nfl-trajectory-r12",
            "info",
            "access",
            "POST /predict_batch",
            200,
            12.5,
            request_id,
        ),
    ]
    for width, table in ((80, False), (140, True)):
        console = Console(width=width, record=True, soft_wrap=True)  # as nfldeploy's stdout()
        monkeypatch.setattr(logs_cmd, "stdout", lambda console=console: console)
        logs_cmd.print_rows("logs", rows)
        text = console.export_text()
        assert request_id in text and ("┃" in text) == table
        if table:
            assert max(len(line) for line in text.splitlines()) <= width
