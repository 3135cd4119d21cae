"""The Cloud Run target through the real ``google.cloud.run_v2`` client (REST) against a local fake of the
Admin API v2 that runs each revision on the real engine: create, update, operation polling, a failed
operation, IAM, traffic tags, canary -> promote -> rollback, secret references."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fake_cloudrun import FakeCloudRun
from manifests import sample_manifest
from nfldeploy.cloud.gcp import services_client
from nfldeploy.errors import DeployError, SmokeTestError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.cloudrun import CloudRunTarget

pytestmark = [pytest.mark.docker, pytest.mark.slow]
PROJECT, REGION = "nfl-proj", "us-central1"
SECRET = f"projects/{PROJECT}/secrets/nfl-api-keys"


@pytest.fixture
def fake(docker_client: Any) -> Iterator[FakeCloudRun]:
    server = FakeCloudRun(docker_client, secrets={SECRET: "cloud-key-1"}).start()
    yield server
    server.stop()


def _target(fake: FakeCloudRun, service: str, **kwargs: Any) -> CloudRunTarget:
    return CloudRunTarget(services_client(fake.endpoint), PROJECT, REGION, service, **kwargs)


def _settings(service: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=service, project=PROJECT, region=REGION, memory="1Gi", **values)


def test_create_update_iam_and_secret_reference(fake: FakeCloudRun, pushed_image: str) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    base = sample_manifest()
    manifest = base.model_copy(
        update={
            "experiment_name": "Run/One",
            "config": base.config.model_copy(update={"sha256": "c0" * 32}),
            "artifacts": {"onnx": base.artifacts["onnx"].model_copy(update={"sha256": "ab" * 32})},
        }
    )
    target = _target(fake, service, manifest=manifest)
    settings = _settings(service)
    plan = target.plan(settings, pushed_image)
    assert [a.kind for a in plan.actions] == ["create", "traffic"]
    first = target.apply(plan)
    assert "GetOperation" in fake.calls  # the client polled the long-running operation
    revision = first.revision
    assert revision.startswith(f"{service}-{pushed_image.split('@sha256:')[1][:8]}-")
    assert first.traffic == {revision: 100}
    assert httpx.get(first.url + "/ready").status_code == 200
    stored = fake.services[target.full_name]["template"]
    assert stored["labels"]["nfldeploy-model"] == "ab" * 6
    assert stored["labels"]["nfldeploy-experiment"] == "run-one"  # sanitized to a label value
    assert stored["containers"][0]["startupProbe"]["httpGet"]["path"] == "/ready"
    assert stored["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/health"
    assert (
        stored["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": 10}
        or stored["scaling"]["maxInstanceCount"] == 10
    )

    assert target.plan(settings, pushed_image).empty  # same image, same settings: nothing to do

    secured = _settings(service, auth=True, api_keys_secret="nfl-api-keys", allow_unauthenticated=True)
    plan = target.plan(secured, pushed_image)
    assert [a.kind for a in plan.actions] == ["secret_ref", "update", "traffic", "iam"]
    assert "cloud-key-1" not in str(plan.as_dict()) and SECRET in str(plan.as_dict())
    second = target.apply(plan)
    assert second.previous == revision and second.traffic == {second.revision: 100}
    env = fake.services[target.full_name]["template"]["containers"][0]["env"]
    assert {
        "name": "NFLSERVE_API_KEYS",
        "valueSource": {"secretKeyRef": {"secret": SECRET, "version": "latest"}},
    } in env
    assert httpx.get(second.url + "/version").status_code == 401
    ok = httpx.get(second.url + "/version", headers={"Authorization": "Bearer cloud-key-1"})
    assert ok.status_code == 200
    assert fake.public(target.full_name)
    assert target.plan(secured, pushed_image).empty  # the binding is read back: no second iam action

    # public access turned off again: the plan says so and the binding goes (the other members stay)
    with fake.lock:
        policy = fake.policies[target.full_name]
        policy["bindings"][0]["members"].append("user:analyst@example.com")
    private = secured.model_copy(update={"allow_unauthenticated": False})
    plan = target.plan(private, pushed_image)
    assert [(a.kind, a.detail) for a in plan.actions] == [
        ("iam", "revoke roles/run.invoker (callers need IAM again)")
    ]
    target.apply(plan)
    assert not fake.public(target.full_name)
    assert fake.policies[target.full_name]["bindings"][0]["members"] == ["user:analyst@example.com"]
    assert target.plan(private, pushed_image).empty

    rolled = target.rollback()
    assert rolled.revision == revision and fake.traffic(target.full_name) == {revision: 100}


def test_canary_promote_rollback(fake: FakeCloudRun, pushed_image: str) -> None:
    service = f"can-{uuid.uuid4().hex[:6]}"
    checked: list[str] = []
    target = _target(fake, service, verify=checked.append)
    first = target.apply(target.plan(_settings(service), pushed_image, canary=10))  # nothing serves: 100 %
    assert first.traffic == {first.revision: 100} and not checked

    plan = target.plan(_settings(service, concurrency=40), pushed_image, canary=10)
    assert [a.kind for a in plan.actions] == ["update", "tag", "smoke_test", "traffic"]
    canary = target.apply(plan)
    assert canary.traffic == {canary.revision: 10, first.revision: 90}
    assert checked and httpx.get(checked[0] + "/ready").status_code == 200  # checked via the tag URL
    statuses = fake.services[target.full_name]["trafficStatuses"]
    assert any(s.get("tag") == "canary" and s["revision"] == canary.revision for s in statuses)
    status = target.status()
    assert status.traffic == {canary.revision: 10, first.revision: 90}

    promoted = target.apply(target.plan_promote())
    assert promoted.traffic == {canary.revision: 100}
    rolled = target.rollback()
    assert rolled.revision == first.revision and fake.traffic(target.full_name) == {first.revision: 100}


def test_a_canary_that_fails_its_check_gets_no_traffic(fake: FakeCloudRun, pushed_image: str) -> None:
    service = f"bad-{uuid.uuid4().hex[:6]}"

    def refuse(url: str) -> None:
        raise SmokeTestError("golden outputs differ")

    target = _target(fake, service, verify=refuse)
    first = target.apply(target.plan(_settings(service), pushed_image))
    with pytest.raises(SmokeTestError, match=r"failed its check.*got no traffic.*golden outputs differ"):
        target.apply(target.plan(_settings(service, concurrency=20), pushed_image, canary=25))
    assert fake.traffic(target.full_name) == {first.revision: 100}


def test_a_failed_operation_keeps_the_previous_revision(
    fake: FakeCloudRun, pushed_image: str, registry: Any
) -> None:
    service = f"fail-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    first = target.apply(target.plan(_settings(service), pushed_image))
    missing = f"{registry.address}/nfldeploy-test/missing@sha256:{'0' * 64}"
    with pytest.raises(DeployError) as caught:
        target.apply(target.plan(_settings(service), missing))
    assert service in caught.value.message and "not found" in caught.value.message
    assert f"{first.revision} 100 %" in caught.value.message
    assert fake.traffic(target.full_name) == {first.revision: 100}
    assert target.status().revisions[-1].state == "failed"


def test_permission_denied_names_the_service_and_quotes_the_api(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    fake.deny.add("CreateService")
    service = f"deny-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    with pytest.raises(DeployError) as caught:
        target.apply(target.plan(_settings(service), pushed_image))
    assert (
        service in caught.value.message
        and "Permission 'run.services.CreateService' denied" in caught.value.message
    )
    assert caught.value.exit_code == 4 and "roles" in (caught.value.hint or "")


def test_quota_exhausted_is_a_deploy_error_with_a_hint(fake: FakeCloudRun, pushed_image: str) -> None:
    fake.exhausted.add("UpdateService")
    service = f"quota-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    first = target.apply(target.plan(_settings(service), pushed_image))
    with pytest.raises(DeployError) as caught:
        target.apply(target.plan(_settings(service, max_instances=50), pushed_image))
    assert service in caught.value.message and "Quota exceeded" in caught.value.message
    assert "quota" in (caught.value.hint or "") and fake.traffic(target.full_name) == {first.revision: 100}


def test_no_wait_returns_once_submitted(fake: FakeCloudRun, pushed_image: str) -> None:
    import time

    service = f"nowait-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service, wait=False)
    submitted = target.apply(target.plan(_settings(service), pushed_image))
    assert submitted.url == "" and "GetOperation" not in fake.calls
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not target.status().traffic:
        time.sleep(0.5)
    assert target.status().traffic == {submitted.revision: 100}


def test_a_change_made_since_the_read_is_refused_not_overwritten(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    """Updates carry the etag read: someone else's change between nfldeploy's read and its write fails with
    409 ABORTED (exit 4), and their change stays; the IAM policy likewise."""
    service = f"etag-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    target.apply(target.plan(_settings(service), pushed_image))
    plan = target.plan(_settings(service, timeout=120), pushed_image)
    real_current = target.api.current

    def read_then_someone_else_changes() -> Any:
        seen = real_current()
        with fake.lock:  # a colleague's console edit lands after our read
            fake.services[target.full_name]["etag"] = '"their-change"'
            fake.services[target.full_name]["annotations"] = {"edited-by": "colleague"}
        return seen

    target.api.current = read_then_someone_else_changes  # type: ignore[method-assign]
    with pytest.raises(DeployError, match=r"ABORTED|modified since it was read"):
        target.apply(plan)
    assert fake.services[target.full_name]["annotations"] == {"edited-by": "colleague"}
    target.api.current = real_current  # type: ignore[method-assign]

    real_get_policy = target.api.client.get_iam_policy

    def policy_then_someone_else_changes(**kwargs: Any) -> Any:
        seen = real_get_policy(**kwargs)
        with fake.lock:
            fake.policies[target.full_name] = {
                "version": 1,
                "etag": "BwXYZ=",
                "bindings": [{"role": "roles/run.admin", "members": ["user:owner@example.com"]}],
            }
        return seen

    target.api.client.get_iam_policy = policy_then_someone_else_changes  # type: ignore[method-assign]
    with pytest.raises(DeployError, match=r"ABORTED|concurrent policy changes"):
        target.api.set_public(True)
    assert fake.policies[target.full_name]["bindings"][0]["role"] == "roles/run.admin"


def test_each_caller_gets_its_own_rate_limit_bucket(fake: FakeCloudRun, pushed_image: str) -> None:
    """Cloud Run's front end writes the caller's address into X-Forwarded-For (the fake does as it does, and
    overwrites whatever a client sent); the rendered NFLSERVE_TRUSTED_PROXIES makes the server believe it, so
    one caller's 429 does not throttle another (it did: every request came from the front end's address)."""
    service = f"rl-{uuid.uuid4().hex[:6]}"
    target = _target(fake, service)
    deployed = target.apply(
        target.plan(_settings(service, rate_limit_rps=0.01, rate_limit_burst=2), pushed_image)
    )

    def calls(address: str, spoofed: str | None = None) -> list[int]:
        transport = httpx.HTTPTransport(local_address=address)
        headers = {"X-Forwarded-For": spoofed} if spoofed else {}
        with httpx.Client(transport=transport, timeout=30) as client:
            return [client.get(deployed.url + "/version", headers=headers).status_code for _ in range(3)]

    assert calls("127.0.0.2") == [200, 200, 429]
    assert calls("127.0.0.3") == [200, 200, 429]  # another caller, its own bucket
    assert calls("127.0.0.2", spoofed="198.51.100.1") == [429, 429, 429]  # a forged header buys nothing
