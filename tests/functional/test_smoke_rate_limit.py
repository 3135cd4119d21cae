"""The smoke test's rate-limiting row: only the service's own 429 (``{"error": {"code": "rate_limited"}}``
with Retry-After) passes it. A 429 from something in front of the service (Lambda's throttle, API Gateway's,
a front end's text) fails it on every platform; on Lambda, whose execution environments each keep their own
buckets, the row is skipped with that reason (table, JSON, JUnit), whether the platform comes from
``smoke-test --url --platform`` or from the deploy's canary check."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from functional_helpers import app_for, serving
from nfldeploy.cli.app import app
from nfldeploy.cli.deploy_cmd import _canary_check
from nfldeploy.errors import SmokeTestError
from nfldeploy.settings import DeploySettings
from nfldeploy.smoke.checks import LAMBDA_SKIP
from nfldeploy.targets.select import TargetName

pytestmark = pytest.mark.slow
runner = CliRunner()

#: What answers 429 in front of a service, each in its own shape:
FOREIGN_429 = {
    # Lambda's own throttle (TooManyRequestsException: its Reason / Type / message members, the error type
    # in x-amzn-ErrorType as Lambda's REST-JSON protocol sends it; botocore's Lambda service model)
    "lambda throttle": (
        {"x-amzn-errortype": "TooManyRequestsException", "content-type": "application/json"},
        b'{"Reason":"ConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}',
        "TooManyRequestsException",
    ),
    # an HTTP API stage's throttle
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html)
    "api gateway throttle": (
        {"content-type": "application/json"},
        b'{"message":"Too Many Requests"}',
        "Too Many Requests",
    ),
    "front end text": ({"content-type": "text/plain"}, b"Rate exceeded.", "Rate exceeded."),
    "json without our error object": (
        {"content-type": "application/json"},
        b'{"error": "rate_limited"}',
        "rate_limited",
    ),
}


class ThrottleInFront:
    """A throttle in front of the real app: after ``allowed`` of the rate-limit row's cheap refused requests
    (POST /predict, text/plain, the body ``x``) it answers every further one with its own 429, before the
    app's limiter could; ``refused`` counts those requests."""

    def __init__(self, inner: Any, shape: str | None, allowed: int = 20) -> None:
        self.inner, self.shape, self.allowed, self.refused = inner, shape, allowed, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        cheap = headers.get(b"content-type") == b"text/plain" and headers.get(b"content-length") == b"1"
        if cheap and scope["path"] == "/predict":
            self.refused += 1
            if self.shape is not None and self.refused > self.allowed:
                extra, body, _ = FOREIGN_429[self.shape]
                await send(
                    {
                        "type": "http.response.start",
                        "status": 429,
                        "headers": [(k.encode(), v.encode()) for k, v in extra.items()]
                        + [(b"content-length", str(len(body)).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.inner(scope, receive, send)


def _limited_app(model_dir: Path) -> Any:
    """The real app with the default rate limit (burst 100): the smoke test's wave reaches it."""
    return app_for(model_dir, rate_limit_rps=50, rate_limit_burst=100)


def _smoke(url: str, export: Path, *extra: str) -> Any:
    return runner.invoke(
        app, ["smoke-test", "--url", url, "--export-dir", str(export), "--requests", "5", *extra]
    )


def _row(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == "rate limiting")


@pytest.mark.parametrize("shape", list(FOREIGN_429))
@pytest.mark.parametrize("platform", [None, "cloudrun"])
def test_a_429_that_is_not_the_services_own_fails_the_row(
    example_export: Path, shape: str, platform: str | None
) -> None:
    front = ThrottleInFront(_limited_app(example_export), shape)
    with serving(front) as url:
        result = _smoke(url, example_export, "--json", *(["--platform", platform] if platform else []))
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert report["failed"] == ["rate limiting"]
    row = _row(report)
    assert "from something in front of the service, not its rate limiter" in row["detail"]
    assert FOREIGN_429[shape][2] in row["detail"]  # what answered is named
    assert "rate limiting" in result.stderr  # the error names the failed row


def test_the_services_own_429_still_passes_behind_a_front_that_lets_it_through(example_export: Path) -> None:
    front = ThrottleInFront(_limited_app(example_export), shape=None)
    with serving(front) as url:
        result = _smoke(url, example_export, "--json", "--platform", "kubernetes")
    assert result.exit_code == 0, result.output
    row = _row(json.loads(result.stdout))
    assert row["passed"] and not row["skipped"] and "Retry-After" in row["detail"]
    # the wave went past where a throttling front would have answered, to the app's own limiter (its burst of
    # 100, less what the earlier rows' requests took)
    assert front.refused > front.allowed


def test_on_lambda_the_row_is_skipped_with_the_reason_in_table_json_and_junit(
    example_export: Path, tmp_path: Path
) -> None:
    front = ThrottleInFront(_limited_app(example_export), "lambda throttle")
    with serving(front) as url:
        junit = tmp_path / "smoke.xml"
        as_json = _smoke(url, example_export, "--json", "--platform", "lambda", "--junit", str(junit))
        table = runner.invoke(  # the table, wide enough for the reason on one line
            app,
            ["smoke-test", "--url", url, "--export-dir", str(example_export), "--platform", "lambda"],
            env={"COLUMNS": "500"},
        )
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["passed"] and report["skipped"] == ["auth", "rate limiting"]  # auth: no --token
    row = _row(report)
    assert row["skipped"] and row["passed"] and row["detail"] == LAMBDA_SKIP
    assert "each execution environment keeps its own rate-limit buckets" in row["detail"]
    assert front.refused == 0  # nothing was sent to provoke a 429: it would prove nothing there
    case = ET.parse(junit).getroot().find("testcase[@name='rate limiting']/skipped")
    assert case is not None and case.get("message") == LAMBDA_SKIP
    assert table.exit_code == 0, table.output
    line = next(line for line in table.stdout.splitlines() if "rate limiting" in line)
    assert "skip" in line and "not checkable on Lambda" in line


def test_the_deploy_canary_check_tells_the_smoke_test_its_target(example_export: Path) -> None:
    """deploy --canary's check runs the smoke test knowing the target: on Lambda the row is skipped (the
    foreign 429s are never provoked), on Cloud Run the same front's 429 fails the canary."""
    settings = DeploySettings(
        function_url_auth="NONE", allow_unauthenticated=True, smoke_p95_budget_ms=10_000
    )
    front = ThrottleInFront(_limited_app(example_export), "lambda throttle")
    with serving(front) as url:
        _canary_check(example_export, None, TargetName.lambda_, settings)(url)  # passes: no raise
        assert front.refused == 0
        with pytest.raises(SmokeTestError, match=r"rate limiting \(429 after \d+ requests from something"):
            _canary_check(example_export, None, TargetName.cloudrun, settings)(url)


def test_platform_goes_with_url_only(example_export: Path) -> None:
    result = runner.invoke(
        app,
        ["smoke-test", "--image", "x:1", "--platform", "lambda", "--export-dir", str(example_export)],
    )
    assert result.exit_code == 2 and "--platform goes with --url" in result.stderr
    bad = runner.invoke(
        app, ["smoke-test", "--url", "http://127.0.0.1:9", "--platform", "heroku", "--export-dir", "x"]
    )
    assert bad.exit_code == 2
