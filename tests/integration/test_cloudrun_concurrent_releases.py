"""Two releases of the same Cloud Run service at once (issue 33): two processes, the same settings, different
images. One wins; the other fails cleanly (exit 4, one message: the service changed since it was read, or
its operation was superseded) or lands after it; never a mixed state (the traffic on one image's revision
with the template, tag or IAM of the other)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudrun_fault_runs import ERROR_LINE, PROJECT, REGION, light_images
from fake_cloudrun import FakeCloudRun

pytestmark = pytest.mark.docker
ROUNDS = 3


@pytest.fixture(scope="module")
def images(docker_client: Any, registry: Any) -> Iterator[list[str]]:
    yield from light_images(docker_client, registry.address, ("left", "right", "base"))


@pytest.fixture
def fake(docker_client: Any) -> Iterator[FakeCloudRun]:
    server = FakeCloudRun(docker_client).start()
    yield server
    server.stop()


def _release(fake: FakeCloudRun, service: str, image: str, tmp: Path) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root / "tests")]),
        "NFLDEPLOY_CLOUDRUN_ENDPOINT": fake.endpoint,
        "NFLDEPLOY_PROJECT": PROJECT,
        "NFLDEPLOY_REGION": REGION,
        "NFLDEPLOY_SERVICE_NAME": service,
        "NFLDEPLOY_MEMORY": "1Gi",
        "NFLDEPLOY_CLOUD_CALL_TIMEOUT": "5",
    }
    args = [sys.executable, "-m", "nfldeploy", "deploy", "--target", "cloudrun", "--image", image]
    args += ["--export-dir", str(tmp), "--no-allow-unauthenticated"]
    return subprocess.Popen(
        args, env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_two_releases_at_once_never_leave_a_mixed_state(
    fake: FakeCloudRun, images: list[str], tmp_path: Path
) -> None:
    left, right, base = images
    service = f"race-{uuid.uuid4().hex[:6]}"
    full = f"projects/{PROJECT}/locations/{REGION}/services/{service}"
    first = _release(fake, service, base, tmp_path)
    assert first.wait(timeout=120) == 0, first.communicate()[0]
    outcomes = []
    for round_ in range(ROUNDS):
        pair = (left, right) if round_ % 2 == 0 else (right, left)
        releases = [_release(fake, service, image, tmp_path) for image in pair]
        results = [(p.wait(timeout=300), p.communicate()[0]) for p in releases]
        outcomes.append(results)
        for code, output in results:
            assert code in (0, 4), output
            assert "Traceback" not in output and "internal error" not in output, output
            if code == 4:
                errors = ERROR_LINE.findall(output)
                assert len(errors) == 1, output
                assert "modified since it was read" in errors[0] or "superseded" in errors[0], output
        assert any(code == 0 for code, _ in results), results  # one of them wins
        with fake.lock:
            stored = fake.services[full]
            serving = [s["revision"] for s in stored["trafficStatuses"] if s["percent"]]
            template_image = stored["template"]["containers"][0]["image"]
            template_revision = stored["template"]["revision"]
            tags = [s.get("tag") for s in stored["trafficStatuses"] if s.get("tag")]
            reconciling = stored.get("reconciling")
        assert not reconciling
        assert len(serving) == 1, stored["trafficStatuses"]  # no split between the two releases
        assert fake.revisions[serving[0]].image == template_image in pair  # traffic and template agree
        assert serving[0] == template_revision
        assert not tags and not fake.public(full)
    print("exit codes per round:", [[code for code, _ in results] for results in outcomes])
