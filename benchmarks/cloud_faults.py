"""Deploys under injected cloud faults: schedules run per target, invariant violations, command times.

    python benchmarks/cloud_faults.py [--schedules 100] [--target lambda|cloudrun ...] [--json]

Runs the suite's many-schedule fault tests (``test_many_*`` / ``*_many_seeded_*`` in
tests/integration/test_*_deploy_faults.py, marked slow and skipped unless $NFLDEPLOY_FAULT_SCHEDULES is set) with --schedules seeded schedules per target. Each schedule is one deploy
through the real CLI with one or two faults injected at the HTTP level in front of the stand-ins (moto's
server, the Cloud Run fake), its invariants checked, then the same deploy re-run with the faults off. The
tests append each schedule's outcome to a JSON-lines file ($NFLDEPLOY_FAULT_FIGURES, tests/faults.py
``record_figure``); this script prints, per target: schedules, invariant violations (must be 0), exit codes
seen, and the median and max command time with faults and of the re-run. Needs the test services
(scripts/test-services) for Cloud Run's revisions; takes a few minutes per 100 schedules.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTS = {
    "lambda": "tests/integration/test_lambda_deploy_faults.py",
    "cloudrun": "tests/integration/test_cloudrun_deploy_faults.py",
}


def run(schedules: int, files: list[str]) -> list[dict[str, Any]]:
    """The figures of every schedule the slow fault tests ran."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.jsonl"
        env = {
            **os.environ,
            "NFLDEPLOY_FAULT_FIGURES": str(figures),
            "NFLDEPLOY_FAULT_SCHEDULES": str(schedules),
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-k", "many"]
        done = subprocess.run([*command, *files], cwd=ROOT, env=env, check=False)
        lines = figures.read_text().splitlines() if figures.exists() else []
        if done.returncode not in (0, 1) or not lines:
            raise SystemExit(f"the fault tests did not run (pytest exit {done.returncode})")
        return [json.loads(line) for line in lines]


def summary(figures: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_target: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for figure in figures:
        by_target[figure["target"]].append(figure)
    table = {}
    for target, rows in sorted(by_target.items()):
        seconds = [row["seconds"] for row in rows]
        reruns = [row["rerun_seconds"] for row in rows if row.get("rerun_seconds") is not None]
        table[target] = {
            "schedules": len(rows),
            "faults": sum(len(row["faults"]) for row in rows),
            "violations": sum(len(row["violations"]) for row in rows),
            "exit_codes": dict(sorted(collections.Counter(str(row["exit_code"]) for row in rows).items())),
            "median_s": statistics.median(seconds),
            "max_s": max(seconds),
            "rerun_median_s": statistics.median(reruns) if reruns else None,
            "rerun_max_s": max(reruns) if reruns else None,
            "violated": [f"seed {row['seed']}: {v}" for row in rows for v in row["violations"]][:10],
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=100, help="seeded schedules per target")
    parser.add_argument("--target", action="append", choices=sorted(TESTS), help="default: all")
    parser.add_argument("--json", action="store_true", help="the table as JSON")
    parser.add_argument("--figures", type=Path, help="read a figures file instead of running the tests")
    args = parser.parse_args()
    if args.figures:
        figures = [json.loads(line) for line in args.figures.read_text().splitlines() if line.strip()]
    else:
        figures = run(args.schedules, [TESTS[t] for t in args.target or sorted(TESTS)])
    table = summary(figures)
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(
        f"{'target':<12} {'schedules':>9} {'faults':>6} {'violations':>10} {'median s':>9} {'max s':>7} "
        f"{'rerun med':>9} {'rerun max':>9}  exit codes"
    )
    for target, row in table.items():
        rerun_median = "-" if row["rerun_median_s"] is None else f"{row['rerun_median_s']:.2f}"
        rerun_max = "-" if row["rerun_max_s"] is None else f"{row['rerun_max_s']:.2f}"
        codes = ", ".join(f"{code}: {count}" for code, count in row["exit_codes"].items())
        print(
            f"{target:<12} {row['schedules']:>9} {row['faults']:>6} {row['violations']:>10} "
            f"{row['median_s']:>9.2f} {row['max_s']:>7.2f} {rerun_median:>9} {rerun_max:>9}  {codes}"
        )
        for violated in row["violated"]:
            print(f"  violation {target} {violated}")
    if any(row["violations"] for row in table.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
