"""Under Lambda's runtime client (awslambdaric, as the Lambda image runs it) our log records keep the fields
given with ``extra=``: its text format printed only the message, so an init failure said "init failed"
without why."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from awslambdaric import bootstrap  # the dev extra's (through `lambda`): missing, the test fails

from nfldeploy.serving import logs


@pytest.fixture
def runtime_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The root logger as awslambdaric's bootstrap sets it up (its handler on a stdout sink), restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
    root.handlers[:] = []
    yield
    root.handlers[:], root.level = handlers, level


def _setup(log_format: str) -> None:
    fmt = bootstrap.LogFormat.from_str(log_format)
    bootstrap._setup_logging(fmt, "", bootstrap.StandardLogSink())


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_the_runtime_clients_text_format_gets_our_json_with_every_field(
    runtime_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup("Text")
    logging.getLogger("nfldeploy.serving").error("init failed", extra={"error": "no model", "hint": "look"})
    logging.getLogger("nfldeploy.serving").error("before", extra={"error": "lost"})
    assert "lost" not in capsys.readouterr().out  # what the runtime client's own format prints
    logs.configure_lambda("INFO")
    log = logging.getLogger("nfldeploy.serving")
    log.error("init failed", extra={"error": "no model", "hint": "look"})
    log.info("second")
    first, second = _lines(capsys.readouterr().out)  # one line each
    assert (first["msg"], first["error"], first["hint"], first["level"]) == (
        "init failed",
        "no model",
        "look",
        "error",
    )
    assert second["msg"] == "second" and "aws_request_id" in second  # the runtime client's request id


def test_lambdas_json_format_and_other_hosts_are_left_alone(
    runtime_logging: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_LOG_FORMAT", "JSON")
    _setup("JSON")
    formatters = [handler.formatter for handler in logging.getLogger().handlers]
    logs.configure_lambda("INFO")
    assert [handler.formatter for handler in logging.getLogger().handlers] == formatters
    logging.getLogger("nfldeploy.serving").warning("kept", extra={"error": "its own"})
    (line,) = _lines(capsys.readouterr().out)
    assert line["message"] == "kept" and line["error"] == "its own"  # Lambda's JSON keeps the fields itself

    monkeypatch.delenv("AWS_LAMBDA_RUNTIME_API")
    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT")
    logging.getLogger().handlers[:] = []
    logs.configure_lambda("INFO")  # not under the runtime client (the handler imported in a test): untouched
    assert logging.getLogger().handlers == []
