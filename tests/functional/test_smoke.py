"""``nfldeploy smoke-test`` passes a healthy service and fails (exit 3, naming the rows) against broken ones."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from custom_models import export_other_model
from functional_helpers import app_for, serving
from nfldeploy.cli.app import app
from nfldeploy.records.runs import read_smoke
from services import free_port

pytestmark = pytest.mark.slow
runner = CliRunner()


def _app(model_dir: Path, **settings: Any) -> Any:
    """The real app with the default rate limit: the smoke test's last row provokes a 429."""
    return app_for(model_dir, **{"rate_limit_rps": 50, "rate_limit_burst": 100, **settings})


def _smoke(url: str, export: Path, *extra: str) -> Any:
    return runner.invoke(
        app, ["smoke-test", "--url", url, "--export-dir", str(export), "--requests", "10", *extra]
    )


def test_a_healthy_service_passes_with_reports(example_export: Path, tmp_path: Path) -> None:
    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export, ignore=shutil.ignore_patterns("reports"))
    with serving(_app(example_export, api_keys=("smoke-key",))) as url:
        junit = tmp_path / "smoke.xml"
        result = _smoke(url, export, "--token", "smoke-key", "--junit", str(junit), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] and report["failed"] == [] and len(report["checks"]) == 12
    assert report["latency"]["p95_ms"] > 0
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "12" and suite.get("failures") == "0"
    kept = read_smoke(export, "url")  # the evidence nfldeploy checklist reads
    assert kept is not None and kept.passed and kept.url == url and len(kept.checks) == 12
    assert kept.check("auth") is not None and not kept.check("auth").skipped  # type: ignore[union-attr]
    limited = kept.check("rate limiting")
    assert limited is not None and limited.passed and "Retry-After" in limited.detail, limited


class _Tamper:
    """Wraps the real app and changes its answers the way a broken deployment would."""

    def __init__(self, inner: Any, mode: str) -> None:
        self.inner, self.mode = inner, mode

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict":
            await self.inner(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                body.extend(message.get("body", b""))

        await self.inner(scope, receive, capture)
        status = start["status"]
        payload = bytes(body)
        if self.mode == "made_up" and status == 200:
            data = json.loads(payload)
            for prediction in data["predictions"]:
                prediction["predicted_positions"] = [
                    [x + 0.7, y - 0.4] for x, y in prediction["predicted_positions"]
                ]
            payload = json.dumps(data).encode()
        if self.mode == "no_sigma" and status == 200:  # the uncertainty a probabilistic model owes
            data = json.loads(payload)
            for prediction in data["predictions"]:
                for mode in prediction.get("modes", []):  # only answers asking for modes have them
                    mode.pop("sigma_x", None)
            payload = json.dumps(data).encode()
        if self.mode == "mislabelled_modes" and status == 200:  # right best path, wrong other modes
            data = json.loads(payload)
            for prediction in data["predictions"]:
                modes = prediction.get("modes", [])
                if len(modes) > 2:
                    modes[1]["mode"], modes[2]["mode"] = modes[2]["mode"], modes[1]["mode"]
            payload = json.dumps(data).encode()
        if self.mode == "500" and 400 <= status < 500 and status != 401:
            status, payload = 500, b'{"detail": "Internal Server Error"}'
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@pytest.mark.parametrize(
    ("mode", "failed_row"),
    [
        ("made_up", "golden outputs"),
        ("500", "bad inputs get 4xx"),
        ("no_sigma", "response schema"),
        ("mislabelled_modes", "golden outputs"),
    ],
)
def test_tampered_services_fail(example_export: Path, mode: str, failed_row: str) -> None:
    with serving(_Tamper(_app(example_export), mode)) as url:
        result = _smoke(url, example_export, "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert failed_row in report["failed"]
    assert failed_row in result.stderr  # the error names the failed rows


def test_a_service_without_auth_fails_when_auth_is_expected(example_export: Path) -> None:
    with serving(_app(example_export)) as url:
        result = _smoke(url, example_export, "--token", "expected-key", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["failed"] == ["auth"]


def test_a_different_model_fails_the_version_and_golden_rows(
    example_export: Path, example_config: Path, tmp_path: Path
) -> None:
    other = export_other_model(example_config, tmp_path / "other_export", seed=3)
    with serving(_app(other)) as url:
        result = _smoke(url, example_export, "--json")
    assert result.exit_code == 3
    failed = json.loads(result.stdout)["failed"]
    assert "version matches the manifest" in failed and "golden outputs" in failed
    assert "the deployed model is not the exported one" in result.stderr


def test_a_service_without_a_rate_limit_fails_the_rate_limiting_row(example_export: Path) -> None:
    with serving(app_for(example_export)) as url:  # 10,000 requests/s, burst 10,000: never reached
        result = _smoke(url, example_export, "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)["failed"] == ["rate limiting"]
    assert "no 429 after 1008 requests" in result.stderr or "no 429 after 1008 requests" in result.stdout


def test_usage_errors(example_export: Path) -> None:
    no_target = runner.invoke(app, ["smoke-test", "--export-dir", str(example_export)])
    assert no_target.exit_code == 2 and "give exactly one of --url, --image and --target" in no_target.stderr
    missing = runner.invoke(
        app, ["smoke-test", "--url", "http://127.0.0.1:9", "--export-dir", "/nonexistent"]
    )
    assert missing.exit_code == 1 and "no export manifest" in missing.stderr
    no_scheme = runner.invoke(
        app, ["smoke-test", "--url", "localhost:8080", "--export-dir", str(example_export)]
    )
    assert no_scheme.exit_code == 1 and "must start with http://" in no_scheme.stderr


def test_an_unreachable_service_fails_every_row(example_export: Path) -> None:
    result = _smoke(f"http://127.0.0.1:{free_port()}", example_export, "--ready-timeout", "1", "--json")
    assert result.exit_code == 3
    failed = json.loads(result.stdout)["failed"]
    assert len(failed) == 11 and failed[0] == "wait for /ready"  # the failed wait is a row of the report
    # rows that could verify nothing say so instead of passing
    assert json.loads(result.stdout)["skipped"] == ["predict_batch", "auth"]


def test_unverified_rows_are_skipped_and_latency_never_hits_the_cache(
    example_export: Path, tmp_path: Path
) -> None:
    import httpx

    with serving(_app(example_export, cache_size=1024)) as url:
        junit = tmp_path / "smoke.xml"
        result = _smoke(url, example_export, "--junit", str(junit), "--json")
        hits = _cache_hits(httpx.get(url + "/metrics").text)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["skipped"] == ["auth"] and report["passed"]
    auth = next(c for c in report["checks"] if c["name"] == "auth")
    assert auth["skipped"] and "no token given" in auth["detail"]
    suite = ET.parse(junit).getroot()
    assert suite.get("skipped") == "1" and suite.find("testcase[@name='auth']/skipped") is not None
    latency = next(c for c in report["checks"] if c["name"] == "latency")
    assert "10 distinct requests (no cache hits)" in latency["detail"]
    assert hits <= 4  # the metrics and batch checks repeat golden plays; the 10 latency requests never do


def _cache_hits(metrics: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "nfldeploy_cache_hits_total"
    )


def test_the_old_manifest_spelling_still_works_with_a_warning(example_export: Path) -> None:
    with serving(_app(example_export)) as url:
        result = runner.invoke(
            app,
            [
                "smoke-test",
                "--url",
                url,
                "--manifest",
                str(example_export / "manifest.json"),
                "--requests",
                "5",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "--manifest is deprecated" in result.stderr and "use --export-dir" in result.stderr
