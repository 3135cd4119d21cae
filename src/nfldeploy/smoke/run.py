"""Smoke-testing an endpoint (a URL, or an image started for the test)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from nfldeploy.errors import ConfigError, SmokeTestError
from nfldeploy.smoke.checks import CheckResult, load_context, run_checks


@dataclass
class SmokeReport:
    """The outcome of one smoke test."""

    url: str
    results: list[CheckResult]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(result.passed for result in self.results)

    def raise_for_failures(self) -> None:
        """SmokeTestError (exit 3) naming the failed rows."""
        failed = [r for r in self.results if not r.passed]
        if failed:
            raise SmokeTestError(
                f"smoke test of {self.url} failed {len(failed)} of {len(self.results)} checks: "
                + "; ".join(f"{r.name} ({r.detail})" for r in failed)
            )


def smoke_url(
    url: str,
    export_dir: Path,
    token: str | None = None,
    requests: int = 50,
    p95_budget_ms: float = 250.0,
    ready_timeout: float = 60.0,
    on_result: Callable[[CheckResult], None] | None = None,
    auth: httpx.Auth | None = None,
    platform: str | None = None,
) -> SmokeReport:
    """Wait for /ready (up to ``ready_timeout``), then run every check against ``url``. ``auth`` signs every
    request (e.g. SigV4 for a Lambda function URL behind IAM); ``platform`` is the deploy target serving
    ``url`` (on ``lambda`` the rate-limit row is skipped: smoke.checks.LAMBDA_SKIP)."""
    if auth is not None and token:
        raise ConfigError(
            "--token and a signed endpoint both need the Authorization header",
            hint="An endpoint behind IAM takes no bearer token: drop --token.",
        )
    with httpx.Client(base_url=url.rstrip("/"), timeout=30.0, auth=auth) as client:
        waited = _wait_ready(client, ready_timeout)
        # a service that never gets ready still gets a report, with this row failed in it
        not_ready = [CheckResult("wait for /ready", False, waited)] if waited else []
        if not_ready and on_result:
            on_result(not_ready[0])
        ctx = load_context(client, export_dir, token, requests, p95_budget_ms, platform)
        results = [*not_ready, *run_checks(ctx, on_result)]
    return SmokeReport(url, results, {"latency": ctx.state.get("latency")})


def _wait_ready(client: httpx.Client, timeout: float) -> str:
    """Poll /ready until it answers 200; '' then, else what it answered last."""
    deadline, last = time.monotonic() + timeout, "no answer"
    while time.monotonic() < deadline:
        try:
            response = client.get("/ready", timeout=5.0)
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                return ""
            last = f"/ready answered {response.status_code}"
        time.sleep(0.2)
    return f"{client.base_url} was not ready after {timeout:g} s ({last})"


def smoke_image(
    client: Any,
    image: str,
    export_dir: Path,
    token: str | None = None,
    requests: int = 50,
    p95_budget_ms: float = 250.0,
    ready_timeout: float = 60.0,
    on_result: Callable[[CheckResult], None] | None = None,
    on_logs: Callable[[str], None] | None = None,
) -> SmokeReport:
    """Start ``image`` on a free port, smoke-test it, and always stop and remove it (logs shown on failure)."""
    from nfldeploy.image.run import logs_tail, remove, start, wait_ready

    env = {"NFLSERVE_API_KEYS": token} if token else {}
    container, url = start(client, image, env=env)
    try:
        wait_ready(url, container, ready_timeout)
        report = smoke_url(url, export_dir, token, requests, p95_budget_ms, ready_timeout, on_result)
        report.extra["image"] = image
        if not report.passed and on_logs:
            on_logs(logs_tail(container))
        return report
    except Exception:
        if on_logs:
            on_logs(logs_tail(container))
        raise
    finally:
        remove(container)
