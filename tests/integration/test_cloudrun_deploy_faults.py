"""Cloud Run deploys under seeded cloud faults (issue 33): throttling, 5xx, reset connections, answers past
the client's timeout, changes whose answer is lost, revisions failing readiness and canaries failing their
check; after each schedule the invariants of tests/cloudrun_fault_runs.py hold. 10 schedules by default;
$NFLDEPLOY_FAULT_SCHEDULES more in the slow test."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudrun_fault_runs import Rig, Step, Twin, light_images, run_schedule
from fake_cloudrun import FakeCloudRun
from faults import SCHEDULES_ENV, Fault, FaultProxy, Schedule, schedule_count

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
    reason=f"runs {SCHEDULES_ENV} seeded schedules (e.g. {SCHEDULES_ENV}=100 pytest -m slow tests/integration/test_cloudrun_deploy_faults.py)",
)
def test_cloudrun_deploys_keep_their_invariants_under_many_seeded_faults(rig: Rig, images: list[str]) -> None:
    _run(rig, images, range(1000, 1000 + schedule_count()))


def _cli(*args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from nfldeploy.cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_a_rerun_of_a_canary_that_got_its_share_keeps_it(rig: Rig, images: list[str]) -> None:
    """Found by the schedules: a canary deploy whose answer was lost after its traffic was set, run again,
    first submitted the traffic without the canary's share (80 % in all: INVALID_ARGUMENT, or on the fake an
    operation that never ended). A tagged canary with a share passed its check: the re-run keeps it."""
    service = f"rerun-{os.urandom(2).hex()}"
    assert rig.deploy(service, Step(images[0], public=True)).exit_code == 0
    rig.fake.deny.add("SetIamPolicy")  # the canary gets its share, the revoke after it fails: half done
    stopped = rig.deploy(service, Step(images[1], canary=20))
    assert stopped.exit_code == 4 and "writing the IAM policy" in stopped.output, stopped.output
    rig.fake.deny.clear()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(rig.fake.traffic(rig.full(service))) < 2:
        time.sleep(0.2)
    split = rig.fake.traffic(rig.full(service))
    checks = len(rig.checked)
    again = rig.deploy(service, Step(images[1], canary=20))  # plans the revoke only
    assert again.exit_code == 0, again.output
    assert not rig.fake.public(rig.full(service))
    assert rig.fake.traffic(rig.full(service)) == split and sorted(split.values()) == [20, 80]
    assert len(rig.checked) == checks  # checked once, when it got its share
    rig.remove_containers(service)


def test_a_deploy_after_a_failed_readiness_says_what_it_found(rig: Rig, images: list[str]) -> None:
    """The operation ends in error (the revision fails its startup probe): exit 4 naming the deploy, the
    traffic as it was; status marks the revision failed; the next plan says it found it and deploys it again."""
    service = f"found-{os.urandom(2).hex()}"
    assert rig.deploy(service, Step(images[0])).exit_code == 0
    serving = rig.fake.traffic(rig.full(service))
    rig.fake.fail_readiness = 1
    failed = rig.deploy(service, Step(images[1]))
    assert failed.exit_code == 4 and "startup probe" in failed.output and "traffic unchanged" in failed.output
    assert rig.fake.traffic(rig.full(service)) == serving
    env = ["--export-dir", str(rig.tmp), "--set", f"service_name={service}", "--set", "memory=1Gi"]
    code, shown = _cli("status", "--target", "cloudrun", *env)
    assert code == 0 and "failed" in shown, shown
    code, planned = _cli("deploy", "--target", "cloudrun", "--image", images[1], "--dry-run", *env)
    assert code == 0 and "found" in planned and "deployed again" in planned, planned
    assert rig.deploy(service, Step(images[1])).exit_code == 0
    assert list(rig.fake.traffic(rig.full(service)).values()) == [100]
    rig.remove_containers(service)


def test_an_update_whose_answer_was_lost_is_not_taken_for_someone_elses_change(
    rig: Rig, images: list[str]
) -> None:
    """Found by the schedules: the update reached Cloud Run but the connection dropped before its answer;
    the retry, with the etag read before, met 409 and the deploy failed with "modified since it was read"
    (the REST client raises Conflict, not Aborted, so the read that tells the lost change apart never ran).
    Now the service as read holds the change: the deploy waits on it and exits 0."""
    service = f"lost-{os.urandom(2).hex()}"
    assert rig.deploy(service, Step(images[0])).exit_code == 0
    lost = Schedule({0: Fault("after")}, admits=lambda call: call.operation.endswith("services.patch"))
    outcome = rig.deploy(service, Step(images[1]), lost)
    assert [c.fault for c in outcome.calls if c.fault] == ["after"]
    assert outcome.exit_code == 0, outcome.output
    with rig.fake.lock:
        serving = [s["revision"] for s in rig.fake.services[rig.full(service)]["trafficStatuses"]]
    assert [rig.fake.revisions[r].image for r in serving] == [images[1]]
    rig.remove_containers(service)
