"""``nfldeploy checklist``: evidence from the records an export collects, missing items name their command,
and the exit code gates a release."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nfldeploy.checklist import Inputs, build_checklist
from nfldeploy.cli.app import app
from nfldeploy.records.build import Build, BuildRecord, write_build_record
from nfldeploy.records.runs import BenchLevel, BenchRun, Check, LogsRead, SmokeRun, write_run
from nfldeploy.settings import load_settings
from nfldeploy.targets.base import Revision, Status

runner = CliRunner()


@pytest.fixture
def export(example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "exported_models"
    shutil.copytree(example_export, copy)
    shutil.rmtree(copy / "reports", ignore_errors=True)
    (copy / "build-record.json").unlink(missing_ok=True)
    return copy


def _checklist(export: Path, *args: str) -> tuple[int, dict[str, dict[str, object]], str]:
    result = runner.invoke(app, ["checklist", "--export-dir", str(export), "--json", *args])
    data = json.loads(result.stdout) if result.stdout.strip() else {"items": []}
    return result.exit_code, {item["key"]: item for item in data["items"]}, result.stderr


def _collect_evidence(export: Path) -> None:
    """What export -> build -> up -> bench -> logs -> render leave behind."""
    build = Build(
        image_id="sha256:" + "ce" * 32,
        tag="nfldeploy/nfl-trajectory:e814d187027c-onnx",
        size_bytes=360_000_000,
        layers=4,
        labels={},
        kind="server",
        runtime="onnx",
        seconds=11.0,
        cached_steps=5,
    )
    write_build_record(export, BuildRecord().with_build(build))
    checks = [
        Check(name="health", passed=True, detail="200"),
        Check(name="auth", passed=True, detail="no token -> 401, wrong token -> 401, good token -> 200"),
        Check(name="metrics", passed=True, detail="Prometheus text, requests counted"),
        Check(
            name="rate limiting", passed=True, detail="429 after 112 requests at 16 at once, Retry-After 1 s"
        ),
    ]
    smoke = SmokeRun(
        at="2026-11-28T10:00:00+00:00", where="local", url="http://127.0.0.1:8080", passed=True, checks=checks
    )
    write_run(export, "smoke-local", smoke)
    level = BenchLevel(
        concurrency=16, requests=2290, throughput_rps=229.0, p50_ms=67.0, p95_ms=91.0, p99_ms=100.0
    )
    write_run(
        export, "bench", BenchRun(at="2026-11-28T10:05:00+00:00", url="http://127.0.0.1:8080", levels=[level])
    )
    write_run(
        export,
        "logs-local",
        LogsRead(at="2026-11-28T10:06:00+00:00", target="local", lines=40, access_lines=30, request_ids=30),
    )
    rendered = runner.invoke(app, ["render", str(export), "--only", "github"])
    assert rendered.exit_code == 0, rendered.output


def test_a_fresh_export_has_the_model_and_names_the_command_for_the_rest(export: Path) -> None:
    code, items, stderr = _checklist(export)
    assert code == 3 and "required checklist item(s) missing" in stderr
    assert items["model_exported"]["state"] == "ok"
    assert "onnx fp32, parity" in str(items["model_exported"]["evidence"])
    assert items["api_tested"]["state"] == "missing" and "nfldeploy up" in str(items["api_tested"]["fix"])
    assert items["load_testing"]["fix"] == "nfldeploy bench --url URL"
    assert items["ci_cd"]["required"] is False  # not every team runs the rendered workflow
    # the setting alone is no evidence: a smoke test must have seen a 429
    limit = items["rate_limiting"]
    assert limit["state"] == "missing" and "50 requests/s" in str(limit["evidence"])
    assert "no smoke test has seen a 429" in str(limit["evidence"])
    assert "nfldeploy smoke-test" in str(limit["fix"])


def test_recorded_evidence_fills_the_checklist(export: Path) -> None:
    _collect_evidence(export)
    code, items, stderr = _checklist(export)
    missing = {key for key, item in items.items() if item["state"] == "missing"}
    assert missing == {"rollback_plan"}, items  # no target given
    assert code == 3 and "Rollback plan" in stderr
    assert "bench at c16: p95 91 ms (budget 250), 229 req/s, 0 errors" in str(
        items["load_testing"]["evidence"]
    )
    assert "no token -> 401" in str(items["authentication"]["evidence"])
    assert "50 requests/s per key or client, burst 100: 429 after 112 requests" in str(
        items["rate_limiting"]["evidence"]
    )
    assert "30 JSON access lines" in str(items["logging"]["evidence"])
    assert str(items["image_built"]["evidence"]).startswith("nfldeploy/nfl-trajectory:e814d187027c-onnx")
    assert str(items["ci_cd"]["source"]).endswith("github/workflows/nfldeploy.yml")
    every_but_rollback = ",".join(key for key in items if key != "rollback_plan")
    code, _, _ = _checklist(export, "--set", f"checklist_required={every_but_rollback}")
    assert code == 0  # a pipeline gates on exactly the items it requires
    table = runner.invoke(app, ["checklist", "--export-dir", str(export)], env={"COLUMNS": "220"})
    assert table.exit_code == 3 and "Load testing" in table.stdout and "missing" in table.stdout


def test_a_failed_smoke_test_is_no_evidence(export: Path) -> None:
    failed = SmokeRun(
        at="2026-11-28T10:00:00+00:00",
        where="local",
        url="http://127.0.0.1:8080",
        passed=False,
        checks=[Check(name="golden outputs", passed=False, detail="max deviation 300 yd")],
    )
    write_run(export, "smoke-local", failed)
    _, items, _ = _checklist(export)
    assert items["api_tested"]["state"] == "missing" and "local failed" in str(
        items["api_tested"]["evidence"]
    )


def test_an_unknown_required_item_is_a_config_error(export: Path) -> None:
    result = runner.invoke(
        app, ["checklist", "--export-dir", str(export), "--set", "checklist_required=model,vibes"]
    )
    assert result.exit_code == 1 and "unknown items: model, vibes" in result.stderr


@pytest.mark.parametrize(
    ("status", "ok", "evidence"),
    [
        (
            Status("cloudrun", "nfl", "https://x", "r2", {"r2": 100}, [], previous="r1"),
            True,
            "previous revision r1 kept",
        ),
        (
            Status(
                "local",
                "nfl",
                "http://x",
                "nfl-r2",
                {"nfl-r2": 100},
                [Revision("nfl-r1", "exited", "i", 1), Revision("nfl-r2", "running", "i", 2)],
            ),
            True,
            "previous revision nfl-r1 kept",
        ),
        (
            Status(
                "local", "nfl", "http://x", "nfl-r1", {"nfl-r1": 100}, [Revision("nfl-r1", "running", "i", 1)]
            ),
            False,
            "nothing to roll back to",
        ),
        (Status("local", "nfl", None, None, {}, []), False, "nothing serves nfl"),
        (None, False, "status is unavailable: no AWS credentials"),
    ],
)
def test_the_rollback_plan_comes_from_the_targets_status(
    export: Path, status: Status | None, ok: bool, evidence: str
) -> None:
    inputs = Inputs(export, load_settings(), "local", status, "no AWS credentials")
    (item,) = [i for i in build_checklist(inputs) if i.key == "rollback_plan"]
    assert item.ok is ok and evidence in item.evidence


@pytest.mark.parametrize(
    ("errors", "p95_ms", "why"),
    [({"503": 4}, 91.0, "4 errors"), ({}, 400.0, "p95 400 ms over the 250 ms budget")],
)
def test_a_bench_that_went_badly_is_no_load_testing_evidence(
    export: Path, errors: dict[str, int], p95_ms: float, why: str
) -> None:
    _collect_evidence(export)
    level = BenchLevel(
        concurrency=16,
        requests=2290,
        throughput_rps=229.0,
        p50_ms=67.0,
        p95_ms=p95_ms,
        p99_ms=max(p95_ms, 100.0),
        errors=errors,
    )
    write_run(
        export, "bench", BenchRun(at="2026-11-28T10:05:00+00:00", url="http://127.0.0.1:8080", levels=[level])
    )
    code, items, _ = _checklist(export)
    assert code == 3 and items["load_testing"]["state"] == "missing"
    assert why in str(items["load_testing"]["evidence"]) and "bench again" in str(
        items["load_testing"]["fix"]
    )
