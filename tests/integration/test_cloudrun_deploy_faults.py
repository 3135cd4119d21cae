"""Cloud Run deploys under seeded cloud faults (issue 33): throttling, 5xx, reset connections, answers past
the client's timeout, changes whose answer is lost, revisions failing readiness and canaries failing their
check; after each schedule the invariants of tests/cloudrun_fault_runs.py hold. 10 schedules by default;
$NFLDEPLOY_FAULT_SCHEDULES more in the slow test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudrun_fault_runs import Rig, Twin, light_images, run_schedule
from fake_cloudrun import FakeCloudRun
from faults import SCHEDULES_ENV, FaultProxy, schedule_count

pytestmark = pytest.mark.docker
DEFAULT_SEEDS = range(10)


@pytest.fixture(scope="module")
def images(docker_client: Any, registry: Any) -> Iterator[list[str]]:
    yield from light_images(docker_client, registry.address, ("one", "two"))


@pytest.fixture
def rig(docker_client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Rig]:
    fake = FakeCloudRun(docker_client).start()
    proxy = FaultProxy(fake.endpoint).start()
    try:
        yield Rig(fake, proxy, monkeypatch, tmp_path)
    finally:
        proxy.stop()
        fake.stop()


def _run(rig: Rig, images: list[str], seeds: range) -> None:
    twins: dict[tuple[Any, ...], Twin] = {}
    violations = [v for seed in seeds for v in run_schedule(rig, seed, images, twins)]
    assert not violations, "\n".join(violations)


def test_cloudrun_deploys_keep_their_invariants_under_seeded_faults(rig: Rig, images: list[str]) -> None:
    _run(rig, images, DEFAULT_SEEDS)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get(SCHEDULES_ENV),
    reason=f"runs {SCHEDULES_ENV} seeded schedules (e.g. {SCHEDULES_ENV}=100 pytest -m slow {__file__})",
)
def test_cloudrun_deploys_keep_their_invariants_under_many_seeded_faults(rig: Rig, images: list[str]) -> None:
    _run(rig, images, range(1000, 1000 + schedule_count()))
