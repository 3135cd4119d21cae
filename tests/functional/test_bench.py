"""``nfldeploy bench`` against a served app: load from a separate process, figures that add up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from functional_helpers import app_for, serving
from nfldeploy.bench.load import percentile
from nfldeploy.cli.app import app
from nfldeploy.records.runs import read_bench

pytestmark = pytest.mark.slow
runner = CliRunner()


def test_bench_reports_throughput_and_percentiles(example_export: Path, tmp_path: Path) -> None:
    import httpx

    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export, ignore=shutil.ignore_patterns("reports"))
    with serving(app_for(example_export, cache_size=1024)) as url:
        result = runner.invoke(
            app,
            [
                "bench",
                "--url",
                url,
                "--export-dir",
                str(export),
                "-c",
                "1",
                "-c",
                "4",
                "--duration",
                "1.5",
                "--json",
            ],
        )
        metrics = httpx.get(url + "/metrics").text
    assert result.exit_code == 0, result.output
    levels = json.loads(result.stdout)["levels"]
    policy = json.loads(result.stdout)["batching"]  # how the service batches, as its /version says
    manifest = json.loads((example_export / "manifest.json").read_text())
    assert policy["max_batch"] == manifest["batching"]["max_batch"] and policy["source"].startswith(
        "measured"
    )
    assert all(level["distinct_bodies"] == 4096 for level in levels)
    served = sum(level["requests"] for level in levels)
    # distinct bodies: the cache answers nothing, the model everything (1.5 s stays far below the 4096 bodies
    # after which a level's bodies repeat)
    assert all(level["requests"] < 4096 for level in levels)
    assert f"nfldeploy_cache_misses_total {float(served)}" in metrics
    assert "nfldeploy_cache_hits_total 0.0" in metrics
    assert [level["concurrency"] for level in levels] == [1, 4]
    for level in levels:
        assert level["requests"] > 10 and level["errors"] == {}
        assert 0 < level["p50_ms"] <= level["p95_ms"] <= level["p99_ms"]
        assert level["throughput_rps"] == pytest.approx(level["requests"] / level["seconds"])
    kept = read_bench(export)  # the evidence nfldeploy checklist and report read
    assert kept is not None and [level.concurrency for level in kept.levels] == [1, 4]
    quantiles = kept.levels[1].quantiles_ms
    assert len(quantiles) == 101 and quantiles == sorted(quantiles)
    assert quantiles[95] == pytest.approx(kept.levels[1].p95_ms, abs=1e-3)  # the same nearest-rank percentile


def test_bench_fails_when_nothing_succeeds(example_export: Path) -> None:
    with serving(app_for(example_export, api_keys=("k",))) as url:
        result = runner.invoke(
            app,
            [
                "bench",
                "--url",
                url,
                "--export-dir",
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
    with serving(app_for(example_export, api_keys=("k",))) as url:
        plain = runner.invoke(
            app, ["bench", "--url", url, "--export-dir", str(example_export), "-c", "1", "--duration", "1"]
        )
    assert plain.exit_code == 4
    assert any(line.startswith("error: no request to") for line in plain.stderr.splitlines())


def test_off_a_terminal_bench_prints_lines_and_its_table_once(example_export: Path, tmp_path: Path) -> None:
    """In a CI log or a pipe: no carriage-return progress fragments, one line per level, one table."""
    export = tmp_path / "exported_models"
    shutil.copytree(example_export, export, ignore=shutil.ignore_patterns("reports"))
    with serving(app_for(example_export)) as url:
        result = runner.invoke(
            app,
            ["bench", "--url", url, "--export-dir", str(export), "-c", "1", "-c", "2", "--duration", "1"],
        )
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output
    assert result.stdout.count("concurrency") == 1 and "req/s" in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines() if line.startswith("c=")] == [
        "c=1",
        "c=2",
    ]
    assert "batching: up to" in result.stdout


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)


def test_usage(example_export: Path) -> None:
    assert runner.invoke(app, ["bench", "--export-dir", str(example_export)]).exit_code == 2  # usage
    no_scheme = runner.invoke(app, ["bench", "--url", "127.0.0.1:8080", "--export-dir", str(example_export)])
    assert no_scheme.exit_code == 1 and "http://" in no_scheme.stderr
    assert (
        runner.invoke(
            app, ["bench", "--url", "http://x", "--cold-start", "2", "--export-dir", str(example_export)]
        ).exit_code
        == 2
    )


def test_the_batching_policy_reads_as_a_line() -> None:
    from nfldeploy.bench.run import describe_policy

    heavy = {
        "enabled": True,
        "max_batch": 1,
        "source": "measured at export (onnx)",
        "ms_per_play": {"1": 9.5},
    }
    assert describe_policy(heavy).startswith(
        "batching: up to 1 plays per model call (measured at export (onnx))"
    )
    assert "compute-bound" in describe_policy(heavy) and "--workers" in describe_policy(heavy)
    light = {**heavy, "max_batch": 32, "ms_per_play": {"1": 2.3, "32": 0.9}}
    assert "compute-bound" not in describe_policy(light) and "32: 0.90" in describe_policy(light)
    assert describe_policy({"enabled": False}) == "batching: off (one model call per request)"
