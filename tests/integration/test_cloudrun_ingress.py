"""Cloud Run's ingress through the fake and the real ``run_v2`` client (review finding 3): a deploy behind a load
balancer (``trusted_hops``) restricts the service to "internal and Cloud Load Balancing", so run.app's URL,
where a client's own ``X-Forwarded-For`` would be believed, answers 403; updates and a rollback keep it; an
update without the setting never reopens a service its owner restricted."""

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
LOAD_BALANCER = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"


@pytest.fixture
def fake(docker_client: Any) -> Iterator[FakeCloudRun]:
    server = FakeCloudRun(docker_client).start()
    yield server
    server.stop()


def _target(fake: FakeCloudRun, service: str) -> CloudRunTarget:
    return CloudRunTarget(services_client(fake.endpoint), PROJECT, REGION, service)


def _settings(service: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=service, project=PROJECT, region=REGION, memory="1Gi", **values)


def _status(fake: FakeCloudRun, url: str, front_end: str) -> int:
    fake.front_end = front_end
    headers = {"X-Forwarded-For": "198.51.100.7"}  # a forged entry, as an attacker at run.app would send
    return httpx.get(url + "/version", headers=headers, timeout=30).status_code


def _ingress(fake: FakeCloudRun, name: str) -> str:
    return str(services_client(fake.endpoint).get_service(name=name).ingress.name)


def test_behind_a_load_balancer_run_app_is_closed_and_updates_and_rollback_keep_it(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    service = f"ing-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    plan = target.plan(_settings(service, trusted_hops=2), pushed_image)
    assert ("ingress", service) in [(a.kind, a.subject) for a in plan.actions]
    url = target.apply(plan).url
    assert _ingress(fake, target.full_name) == LOAD_BALANCER
    assert _status(fake, url, "load_balancer") == 200
    assert _status(fake, url, "overwrite") == 403  # run.app, straight
    assert _status(fake, url, "append") == 403  # run.app appending: the forgeable shape
    # an update (another revision) sends the ingress again, named in the mask, and keeps it
    target.apply(target.plan(_settings(service, trusted_hops=2, rate_limit_burst=7), pushed_image))
    assert fake.masks[-1] is not None and "ingress" in fake.masks[-1].split(",")
    assert _ingress(fake, target.full_name) == LOAD_BALANCER
    assert target.plan(_settings(service, trusted_hops=2, rate_limit_burst=7), pushed_image).empty
    target.rollback()
    assert _ingress(fake, target.full_name) == LOAD_BALANCER
    assert _status(fake, url, "append") == 403


def test_an_update_without_the_setting_keeps_the_owners_ingress_and_a_set_one_is_applied(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    from google.cloud import run_v2
    from google.protobuf import field_mask_pb2

    service = f"ing-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    url = target.apply(target.plan(_settings(service), pushed_image)).url
    assert _ingress(fake, target.full_name) == "INGRESS_TRAFFIC_ALL"
    assert _status(fake, url, "overwrite") == 200
    # the owner restricts it themselves (gcloud run services update --ingress internal)
    client = services_client(fake.endpoint)
    current = client.get_service(name=target.full_name)
    current.ingress = run_v2.IngressTraffic.INGRESS_TRAFFIC_INTERNAL_ONLY
    mask = field_mask_pb2.FieldMask(paths=["ingress"])
    client.update_service(request={"service": current, "update_mask": mask}).result(timeout=120)
    target.apply(target.plan(_settings(service, rate_limit_burst=7), pushed_image))  # no ingress setting
    assert _ingress(fake, target.full_name) == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert _status(fake, url, "overwrite") == 403
    # an ingress set explicitly is applied on its own (the revision unchanged), then the plan is empty
    wanted = _settings(service, rate_limit_burst=7, ingress=LOAD_BALANCER)
    plan = target.plan(wanted, pushed_image)
    assert [a.kind for a in plan.actions] == ["ingress"]
    target.apply(plan)
    assert _ingress(fake, target.full_name) == LOAD_BALANCER
    assert _status(fake, url, "load_balancer") == 200
    assert target.plan(wanted, pushed_image).empty
