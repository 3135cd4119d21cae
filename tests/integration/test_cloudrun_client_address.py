"""The client's address through a deployed Cloud Run service, for each shape of X-Forwarded-For Google's front
ends deliver (the fake's ``front_end``: run.app overwriting or appending, a Google external Application Load
Balancer appending ``<client>,<load balancer>``): a forged, rotating header never buys a fresh rate-limit
bucket, and real callers keep buckets of their own where the setting says how many entries the platform
writes (``trusted_hops``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_cloudrun import FakeCloudRun
from nfldeploy.cloud.gcp import services_client
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.cloudrun import CloudRunTarget

pytestmark = [pytest.mark.docker, pytest.mark.slow]
PROJECT, REGION = "nfl-proj", "us-central1"


@pytest.fixture
def fake(docker_client: Any) -> Iterator[FakeCloudRun]:
    server = FakeCloudRun(docker_client).start()
    yield server
    server.stop()


def _deploy(fake: FakeCloudRun, image: str, **values: Any) -> str:
    service = f"xff-{uuid.uuid4().hex[:6]}"
    target = CloudRunTarget(services_client(fake.endpoint), PROJECT, REGION, service)
    settings = DeploySettings(
        service_name=service,
        project=PROJECT,
        region=REGION,
        memory="1Gi",
        rate_limit_rps=0.01,
        rate_limit_burst=2,
        **values,
    )
    return target.apply(target.plan(settings, image)).url


def _calls(url: str, caller: str, forge: bool) -> list[int]:
    """Three requests from ``caller`` (a loopback address of its own); with ``forge`` each one writes another
    X-Forwarded-For of its own first."""
    statuses = []
    with httpx.Client(transport=httpx.HTTPTransport(local_address=caller), timeout=30) as client:
        for index in range(3):
            headers = {"X-Forwarded-For": f"198.51.100.{index + 1}, 10.0.0.{index + 1}"} if forge else {}
            statuses.append(client.get(url + "/version", headers=headers).status_code)
    return statuses


def test_run_app_front_ends_each_caller_its_own_bucket_and_forgery_buys_nothing(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    url = _deploy(fake, pushed_image)  # as nfldeploy deploys: every peer trusted, no trusted_hops
    fake.front_end = "overwrite"
    assert _calls(url, "127.0.0.11", forge=True) == [200, 200, 429]
    assert _calls(url, "127.0.0.12", forge=False) == [200, 200, 429]  # another caller, its own bucket
    fake.front_end = "append"  # run.app appending the caller's address to the client's header
    assert _calls(url, "127.0.0.13", forge=True) == [200, 200, 429]
    assert _calls(url, "127.0.0.14", forge=True) == [200, 200, 429]
    fake.front_end = (
        "load_balancer"  # a load balancer, but no trusted_hops: one bucket (the LB's), not forgeable
    )
    assert _calls(url, "127.0.0.15", forge=True) == [200, 200, 429]
    assert _calls(url, "127.0.0.16", forge=True) == [429, 429, 429]


def test_behind_a_load_balancer_trusted_hops_2_gives_each_caller_its_own_bucket(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    url = _deploy(fake, pushed_image, trusted_hops=2)
    fake.front_end = "load_balancer"
    assert _calls(url, "127.0.0.21", forge=True) == [200, 200, 429]  # the rotating forgery is ignored
    assert _calls(url, "127.0.0.22", forge=False) == [200, 200, 429]  # another caller, its own bucket
    fake.front_end = "overwrite"  # the same service reached at run.app: one entry, the caller's
    assert _calls(url, "127.0.0.23", forge=True) == [200, 200, 429]
    assert _calls(url, "127.0.0.24", forge=True) == [200, 200, 429]
