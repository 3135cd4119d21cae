"""What a user set on a Cloud Run service themselves (as gcloud does: through the Admin API, with an update
mask) survives nfldeploy's deploys and a rollback: service labels and annotations, the description, template
labels, an env var of their own and VPC access. nfldeploy writes its four fields with an update mask, each
merged with what it read; the fake applies masks (and the implied mask without one) as the API does."""

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
SECRET = f"projects/{PROJECT}/secrets/nfl-api-keys"
CONNECTOR = f"projects/{PROJECT}/locations/{REGION}/connectors/nfl-vpc"


@pytest.fixture
def fake(docker_client: Any) -> Iterator[FakeCloudRun]:
    server = FakeCloudRun(docker_client, secrets={SECRET: "cloud-key-1"}).start()
    yield server
    server.stop()


def _settings(service: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=service, project=PROJECT, region=REGION, memory="1Gi", **values)


def _user_edits(client: Any, name: str) -> None:
    """What ``gcloud run services update --update-labels team=trajectory --update-annotations ...
    --update-env-vars FEATURE_FLAG=on --vpc-connector ... --description ...`` sends: the service as read with
    these fields changed, a new revision name left to the API, and a mask naming what changed."""
    from google.cloud import run_v2
    from google.protobuf import field_mask_pb2

    service = client.get_service(name=name)
    service.labels["team"] = "trajectory"
    service.annotations["example.com/ticket"] = "NFL-42"
    service.description = "trajectory API (owned by the analytics team)"
    service.template.revision = ""
    service.template.labels["cost-center"] = "analytics"
    service.template.containers[0].env.append(run_v2.EnvVar(name="FEATURE_FLAG", value="on"))
    service.template.vpc_access = run_v2.VpcAccess(
        connector=CONNECTOR, egress=run_v2.VpcAccess.VpcEgress.PRIVATE_RANGES_ONLY
    )
    mask = field_mask_pb2.FieldMask(paths=["labels", "annotations", "description", "template"])
    client.update_service(request={"service": service, "update_mask": mask}).result(timeout=120)


def _assert_kept(fake: FakeCloudRun, name: str, auth: bool) -> None:
    stored = fake.services[name]
    assert stored["labels"] == {"team": "trajectory", "managed-by": "nfldeploy"}
    assert stored["annotations"]["example.com/ticket"] == "NFL-42"
    assert stored["description"] == "trajectory API (owned by the analytics team)"
    template = stored["template"]
    assert template["vpcAccess"] == {"connector": CONNECTOR, "egress": "PRIVATE_RANGES_ONLY"} or template[
        "vpcAccess"
    ] == {"connector": CONNECTOR, "egress": 2}
    assert (
        template["labels"]["cost-center"] == "analytics" and template["labels"]["managed-by"] == "nfldeploy"
    )
    env = {var["name"]: var for var in template["containers"][0]["env"]}
    assert env["FEATURE_FLAG"]["value"] == "on"
    assert ("NFLSERVE_API_KEYS" in env) == auth  # nfldeploy's own variables follow its settings
    assert "NFLSERVE_RATE_LIMIT_RPS" in env


def _env_of(fake: FakeCloudRun, revision: str) -> dict[str, str]:
    """The environment the revision's container really runs with."""
    container = fake.revisions[revision].container
    container.reload()
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def test_user_labels_annotations_env_and_vpc_survive_two_deploys_and_a_rollback(
    fake: FakeCloudRun, pushed_image: str
) -> None:
    service = f"keep-{uuid.uuid4().hex[:6]}"
    client = services_client(fake.endpoint)
    target = CloudRunTarget(client, PROJECT, REGION, service)
    with_auth = _settings(service, auth=True, api_keys_secret="nfl-api-keys")
    first = target.apply(target.plan(with_auth, pushed_image))
    _user_edits(client, target.full_name)
    assert fake.masks[-1] == "labels,annotations,description,template"

    # the same settings again: the user's env var is in the template nfldeploy sends, so that is another
    # configuration than the first revision's, under a name of its own (Cloud Run refuses a name reused)
    plan = target.plan(with_auth, pushed_image)
    assert "update" in [action.kind for action in plan.actions]
    second = target.apply(plan)
    _assert_kept(fake, target.full_name, auth=True)
    assert second.revision != first.revision and second.traffic == {second.revision: 100}
    assert fake.masks[-1] == "template,traffic,labels,annotations"  # the fields nfldeploy owns, named
    assert _env_of(fake, second.revision)["FEATURE_FLAG"] == "on"  # the revision serving runs with it
    assert target.plan(with_auth, pushed_image).empty  # a re-plan of the same state names it again

    third = target.apply(target.plan(_settings(service, timeout=120), pushed_image))  # auth off
    _assert_kept(fake, target.full_name, auth=False)
    assert httpx.get(third.url + "/version").status_code == 200  # the old API keys variable is gone
    assert "NFLSERVE_API_KEYS" not in _env_of(fake, third.revision)

    rolled = target.rollback()
    assert rolled.revision == second.revision and rolled.revision != first.revision
    _assert_kept(fake, target.full_name, auth=False)
    assert target.status().previous == third.revision
