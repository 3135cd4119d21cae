"""Smoke-test reports: JSON and JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nfldeploy.records.runs import Check, SmokeRun, write_run
from nfldeploy.records.schema import now
from nfldeploy.smoke.checks import CheckResult


def as_json(url: str, results: list[CheckResult], extra: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable report."""
    return {
        "url": url,
        "passed": all(r.passed for r in results),
        "failed": [r.name for r in results if not r.passed],
        "skipped": [r.name for r in results if r.skipped],
        "checks": [asdict(r) for r in results],
        **extra,
    }


def write_junit(path: Path, url: str, results: list[CheckResult]) -> None:
    """One testsuite, one testcase per check; failures carry the detail."""
    suite = ET.Element(
        "testsuite",
        name="nfldeploy smoke-test",
        tests=str(len(results)),
        failures=str(sum(not r.passed for r in results)),
        skipped=str(sum(r.skipped for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="url", value=url)
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname="nfldeploy.smoke", name=result.name, time=f"{result.seconds:.3f}"
        )
        if result.skipped:
            ET.SubElement(case, "skipped", message=result.detail)
        elif result.passed:
            ET.SubElement(case, "system-out").text = result.detail
        else:
            ET.SubElement(case, "failure", message=result.detail).text = result.detail
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def record(export_dir: Path, where: str, url: str, results: list[CheckResult]) -> Path:
    """Keep the smoke test as evidence next to the export (``reports/smoke-<where>.json``)."""
    run = SmokeRun(
        at=now(),
        where=where,
        url=url,
        passed=all(r.passed for r in results),
        checks=[Check.model_validate(asdict(r)) for r in results],
    )
    return write_run(export_dir, f"smoke-{where}", run)
