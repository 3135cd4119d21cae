"""``nfldeploy bench`` against a served app: load from a separate process, figures that add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from functional_helpers import app_for, serving
from nfldeploy.bench.load import percentile
from nfldeploy.cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_bench_reports_throughput_and_percentiles(example_export: Path) -> None:
    with serving(app_for(example_export)) as url:
        result = runner.invoke(
            app,
            [
                "bench",
                "--url",
                url,
                "--manifest",
                str(example_export),
                "-c",
                "1",
                "-c",
                "4",
                "--duration",
                "1.5",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    levels = json.loads(result.stdout)["levels"]
    assert [level["concurrency"] for level in levels] == [1, 4]
    for level in levels:
        assert level["requests"] > 10 and level["errors"] == {}
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
        assert level["throughput_rps"] == pytest.approx(level["requests"] / level["seconds"])


def test_bench_fails_when_nothing_succeeds(example_export: Path) -> None:
    with serving(app_for(example_export, api_keys=("k",))) as url:
        result = runner.invoke(
            app,
            [
                "bench",
                "--url",
                url,
                "--manifest",
                str(example_export),
                "-c",
                "2",
                "--duration",
                "1",
                "--json",
            ],
        )
    assert result.exit_code == 4  # no token: every request refused, and the run says so
    assert "no request to" in result.stderr and "401" in result.stderr


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)


def test_usage(example_export: Path) -> None:
    assert runner.invoke(app, ["bench", "--manifest", str(example_export)]).exit_code == 1
    no_scheme = runner.invoke(app, ["bench", "--url", "127.0.0.1:8080", "--manifest", str(example_export)])
    assert no_scheme.exit_code == 1 and "http://" in no_scheme.stderr
    assert (
        runner.invoke(
            app, ["bench", "--url", "http://x", "--cold-start", "2", "--manifest", str(example_export)]
        ).exit_code
        == 1
    )
