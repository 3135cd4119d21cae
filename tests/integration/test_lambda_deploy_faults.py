"""Lambda deploys under injected cloud faults (issue 33): seeded schedules of throttling, 5xx, resets, slow
answers and faults after the change, through the real CLI against moto's server (harness:
``tests/lambda_fault_runs.py``). The default suite runs 10 schedules per endpoint kind; the slow test
``schedule_count()`` more (set $NFLDEPLOY_FAULT_SCHEDULES to run it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import SCHEDULES_ENV, schedule_count
from lambda_fault_runs import Harness, harness

ENDPOINTS = ("function_url", "api_gateway")
DEFAULT_SCHEDULES = 10


@pytest.fixture(params=ENDPOINTS)
def faulted(
    request: pytest.FixtureRequest, aws_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Harness]:
    found = harness(aws_env, monkeypatch, tmp_path, request.param)
    yield found
    found.close()


def _run(found: Harness, seeds: range) -> list[str]:
    violations: list[str] = []
    for seed in seeds:
        violations += found.schedule(seed)
    return violations


def test_seeded_fault_schedules_keep_the_lambda_invariants(faulted: Harness) -> None:
    violations = _run(faulted, range(DEFAULT_SCHEDULES))
    assert not violations, "\n".join(violations)


@pytest.mark.slow
@pytest.mark.skipif(
    not __import__("os").environ.get(SCHEDULES_ENV),
    reason=f"set {SCHEDULES_ENV}=100 to run that many seeded schedules per endpoint kind",
)
def test_many_seeded_fault_schedules_keep_the_lambda_invariants(faulted: Harness) -> None:
    count = schedule_count()
    violations = _run(faulted, range(DEFAULT_SCHEDULES, DEFAULT_SCHEDULES + count))
    assert not violations, "\n".join(violations)
