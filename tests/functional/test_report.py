"""``nfldeploy report``: the page and its JSON from an export's records (a golden JSON), missing parts marked,
and the page opened in headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.records.runs import BenchLevel, BenchRun, Check, SmokeRun, write_run
from services import unavailable

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "report" / "report.json"
runner = CliRunner()


@pytest.fixture
def export(example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "exported_models"
    shutil.copytree(example_export, copy, ignore=shutil.ignore_patterns("reports", "build-record.json"))
    checks = [
        Check(name="golden outputs", passed=True, detail="3 golden plays, max deviation 0.0001 yd"),
        Check(name="auth", passed=False, detail="no token given", skipped=True),
        Check(name="metrics", passed=True, detail="Prometheus text, requests counted"),
    ]
    smoke = SmokeRun(
        at="2026-11-28T10:00:00+00:00", where="url", url="http://127.0.0.1:8080", passed=True, checks=checks
    )
    write_run(copy, "smoke-url", smoke)
    levels = [
        BenchLevel(
            concurrency=c,
            requests=1000 * c,
            throughput_rps=100.0 * c,
            p50_ms=5.0 * c,
            p95_ms=8.0 * c,
            p99_ms=9.0 * c,
            quantiles_ms=[round(4.0 * c + 6.0 * c * (q / 100) ** 3, 3) for q in range(101)],
        )
        for c in (1, 16)
    ]
    write_run(
        copy, "bench", BenchRun(at="2026-11-28T10:05:00+00:00", url="http://127.0.0.1:8080", levels=levels)
    )
    return copy


def _report(export: Path, out: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    result = runner.invoke(app, ["report", "--export-dir", str(export), "--out", str(out), *args])
    data = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else {}
    return result, data


def _normalized(data: dict[str, Any]) -> dict[str, Any]:
    """The report without what changes from run to run or machine to machine (times, paths, the version and
    the predicted coordinates, which the export tests check); the plays keep their shape."""
    plays = [
        {
            "index": play["index"],
            "direction": play["direction"],
            "players": len(play["players"]),
            "modes": sorted({len(p["modes"]) for p in play["players"]}),
            "frames": sorted({len(m["path"]) for p in play["players"] for m in p["modes"]}),
            "history": sorted({len(p["history"]) for p in play["players"]}),
        }
        for play in data["plays"]
    ]
    checklist = [
        {k: v for k, v in item.items() if k not in ("evidence", "source", "fix")}
        for item in data["checklist"]
    ]
    gates = data["gates"] and {  # the figures depend on the CPU's float arithmetic: their presence is checked
        "parity": [{k: v for k, v in row.items() if k != "max_abs_error"} for row in data["gates"]["parity"]],
        "fp32": sorted(data["gates"]["fp32"]),
        "int8": [{"name": gate["name"], "kept": gate["kept"]} for gate in data["gates"]["int8"]],
        "heldout_plays": data["gates"]["heldout_plays"],
    }
    lineage = [
        {k: v for k, v in link.items() if link["step"] != "artifact" or k != "id"} for link in data["lineage"]
    ]
    volatile = ("generated_at", "export_dir", "nfldeploy_version", "plays", "checklist", "gates", "lineage")
    return {
        **{k: v for k, v in data.items() if k not in volatile},
        "plays": plays,
        "checklist": checklist,
        "gates": gates,
        "lineage": lineage,
    }


def test_the_report_data_matches_its_golden_json(export: Path, tmp_path: Path) -> None:
    result, data = _report(export, tmp_path / "site" / "report.html")
    assert result.exit_code == 0, result.output
    normalized = _normalized(data)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(normalized, indent=2, sort_keys=True) + "\n")
    assert normalized == json.loads(GOLDEN.read_text()), "report.json differs (UPDATE_GOLDEN=1 to accept)"
    assert [link["step"] for link in data["lineage"]] == [
        "config",
        "checkpoint",
        "artifact",
        "image",
        "revision",
        "url",
    ]
    assert [link["missing"] for link in data["lineage"]] == [False, False, False, True, True, True]
    page = (tmp_path / "site" / "report.html").read_text()
    assert "http://" not in page.replace("http://127.0.0.1:8080", "")  # nothing to fetch: self-contained
    assert page.count('class="cdf"') == 2 and page.count('class="field"') == 3


def test_without_an_export_the_page_still_renders_with_the_gaps_marked(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    for folder in ("empty", "broken"):
        out = tmp_path / f"{folder}.html"
        result, data = _report(tmp_path / folder, out)
        assert result.exit_code == 0, result.output
        assert (
            all(link["missing"] for link in data["lineage"]) and data["plays"] == [] and data["bench"] is None
        )
        page = out.read_text()
        assert "No export: nfldeploy export CONFIG." in page and "No bench recorded" in page
    assert "invalid JSON" in json.loads((tmp_path / "broken.json").read_text())["manifest_error"]


def test_a_target_without_credentials_is_a_gap_not_a_failure(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    result, data = _report(export, tmp_path / "report.html", "--target", "kubernetes")
    assert result.exit_code == 0, result.output
    revision = next(link for link in data["lineage"] if link["step"] == "revision")
    assert revision["missing"] and revision["why"]


def test_the_page_opens_in_headless_chromium(export: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        unavailable("chromium is not installed")
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    result, data = _report(export, out)
    assert result.exit_code == 0, result.output
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on(
                "console", lambda message: problems.append(message.text) if message.type == "error" else None
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "request",
                lambda request: problems.append(request.url) if not request.url.startswith("file:") else None,
            )
            page.goto(out.as_uri())
            assert page.title().startswith("nfldeploy report: nfl_production_v2")
            curves = page.locator("#latency-plot polyline.cdf")
            assert curves.count() == 2
            box = curves.nth(1).bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100  # drawn across the plot
            players = sum(len(play["players"]) for play in data["plays"])
            assert page.locator("svg.field").count() == 3
            assert page.locator("svg.field polyline.trajectory").count() == players
            assert page.locator("svg.field circle").count() == players
            field = page.locator("svg.field").first.bounding_box()
            assert field is not None and field["width"] > 800
            shot = page.screenshot(full_page=True)
            page.goto("about:blank")
            blank = page.screenshot(full_page=True)
        finally:
            browser.close()
    assert problems == []  # no console errors, and nothing fetched from the network
    assert len(shot) > 10 * len(blank)  # a rendered page, not an empty one
