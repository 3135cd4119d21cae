"""Plans as data: what given settings and a given remote state produce (no network: the remote state is
handed in through botocore's Stubber and run_v2 objects), and the waiter failure paths."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from google.api_core import exceptions
from google.cloud import run_v2
from google.iam.v1 import policy_pb2

from nfldeploy.cloud.aws import AwsClients
from nfldeploy.errors import ConfigError, DeployError, RemoteError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import SPEC_PREFIX, LambdaSpec, LambdaTarget
from nfldeploy.targets.base import Action, Plan
from nfldeploy.targets.cloudrun import CloudRunTarget

IMAGE = "us-docker.pkg.dev/p/r/nfl@sha256:" + "ab" * 32


class RemoteState:
    """A Cloud Run project holding at most one service (the state a plan reads)."""

    def __init__(self, service: run_v2.Service | None = None, public: bool = False) -> None:
        self.service, self.public = service, public

    def get_service(self, name: str, **call: Any) -> run_v2.Service:
        if self.service is None:
            raise exceptions.NotFound("not found")
        return self.service

    def get_iam_policy(self, request: dict[str, Any], **call: Any) -> policy_pb2.Policy:
        bindings = [policy_pb2.Binding(role="roles/run.invoker", members=["allUsers"])] if self.public else []
        return policy_pb2.Policy(bindings=bindings)


def _cloudrun(state: RemoteState, **kwargs: Any) -> CloudRunTarget:
    return CloudRunTarget(state, "p", "us-central1", "nfl", **kwargs)


def _settings(**values: Any) -> DeploySettings:
    return DeploySettings(service_name="nfl", project="p", **values)


def _serving(target: CloudRunTarget, settings: DeploySettings, traffic: dict[str, int]) -> run_v2.Service:
    """The service as it is after ``settings`` were deployed and traffic set to ``traffic``."""
    template = target.plan(settings, IMAGE).spec.template
    return run_v2.Service(
        name=target.full_name,
        template=template,
        uri="https://nfl-abc.a.run.app",
        traffic_statuses=[{"type_": 2, "revision": rev, "percent": pct} for rev, pct in traffic.items()],
    )


def _kinds(plan: Plan) -> list[str]:
    return [a.kind for a in plan.actions]


def test_cloudrun_first_deploy_creates_and_routes_everything() -> None:
    plan = _cloudrun(RemoteState()).plan(_settings(), IMAGE)
    assert _kinds(plan) == ["create", "traffic"]
    revision = plan.spec.revision
    assert revision.startswith("nfl-abababab-") and plan.spec.traffic == {revision: 100}
    container = plan.spec.template["containers"][0]
    assert container["startup_probe"]["http_get"]["path"] == "/ready"
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}


def test_cloudrun_unchanged_settings_give_the_empty_plan() -> None:
    target = _cloudrun(RemoteState())
    state = RemoteState(_serving(target, _settings(), {}))
    state.service.traffic_statuses = [
        {"type_": 2, "revision": state.service.template.revision, "percent": 100}
    ]
    assert _cloudrun(state).plan(_settings(), IMAGE).empty


def test_cloudrun_changed_settings_update_with_a_new_revision() -> None:
    target = _cloudrun(RemoteState())
    old = target.plan(_settings(), IMAGE).spec.revision
    state = RemoteState(_serving(target, _settings(), {old: 100}))
    plan = _cloudrun(state).plan(_settings(memory="4Gi", cpu=2), IMAGE)
    assert _kinds(plan) == ["update", "traffic"] and plan.spec.revision != old
    assert plan.spec.previous == old


def test_cloudrun_canary_splits_and_checks_before_traffic() -> None:
    target = _cloudrun(RemoteState())
    old = target.plan(_settings(), IMAGE).spec.revision
    state = RemoteState(_serving(target, _settings(), {old: 100}))
    plan = _cloudrun(state, verify=lambda url: None).plan(_settings(concurrency=10), IMAGE, canary=10)
    assert _kinds(plan) == ["update", "tag", "smoke_test", "traffic"]
    assert plan.spec.traffic == {plan.spec.revision: 10, old: 90}
    with pytest.raises(ConfigError, match="between 1 and 99"):
        _cloudrun(state).plan(_settings(), IMAGE, canary=100)
    with pytest.raises(ConfigError, match="Cloud Run cpu must be one of"):
        _cloudrun(state).plan(_settings(cpu=3), IMAGE)


def test_cloudrun_secret_and_iam_appear_as_references() -> None:
    plan = _cloudrun(RemoteState()).plan(
        _settings(auth=True, api_keys_secret="keys:3", allow_unauthenticated=True), IMAGE
    )
    assert _kinds(plan) == ["secret_ref", "create", "traffic", "iam"]
    assert plan.actions[0].detail == "projects/p/secrets/keys version 3"
    with pytest.raises(ConfigError, match="api_keys_secret"):
        _cloudrun(RemoteState()).plan(_settings(auth=True), IMAGE)
    with pytest.raises(ConfigError, match="project"):
        CloudRunTarget(RemoteState(), None, "us-central1", "nfl")


def _lambda(stubber_setup: Any, **options: Any) -> tuple[LambdaTarget, list[Stubber]]:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    clients = AwsClients(session.client("lambda"), session.client("ecr"), session.client("iam"))
    stubs = [Stubber(clients.lambda_), Stubber(clients.ecr), Stubber(clients.iam)]
    stubber_setup(*stubs)
    for stub in stubs:
        stub.activate()
    options = {"waiter_config": {"Delay": 0, "MaxAttempts": 2}, **options}
    return LambdaTarget(clients, "nfl", "us-east-1", **options), stubs


ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl@sha256:" + "cd" * 32
ROLE = {
    "Role": {
        "RoleName": "nfl-nfldeploy",
        "Arn": "arn:aws:iam::123456789012:role/nfl-nfldeploy",
        "Path": "/",
        "RoleId": "AROAEXAMPLE0000000000",
        "CreateDate": "2026-01-01T00:00:00Z",
    }
}
REPO = {
    "repositories": [
        {
            "repositoryName": "nfl",
            "repositoryUri": ECR_IMAGE.split("@")[0],
            "imageScanningConfiguration": {"scanOnPush": True},
        }
    ]
}


URL_CONFIG = {
    "FunctionUrl": "https://abcdefghijk.lambda-url.us-east-1.on.aws/",
    "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:nfl:live",
    "AuthType": "AWS_IAM",
    "CreationTime": "2026-01-01T00:00:00Z",
    "LastModifiedTime": "2026-01-01T00:00:00Z",
}
LIVE = {
    "Name": "live",
    "FunctionVersion": "4",
    "AliasArn": "arn:aws:lambda:us-east-1:123456789012:function:nfl:live",
}


def _listed(lam: Stubber) -> None:
    """What a plan lists of a function serving version 4 through alias live's URL: every function URL, every
    alias, every version (for retention)."""
    lam.add_response("list_function_url_configs", {"FunctionUrlConfigs": [URL_CONFIG]})
    lam.add_response("list_aliases", {"Aliases": [LIVE]})
    lam.add_response("get_policy", {"Policy": json.dumps({"Statement": []})})  # no stray grant on live
    lam.add_response("list_versions_by_function", {"Versions": [{"Version": "$LATEST"}, {"Version": "4"}]})


def test_lambda_unchanged_function_gives_the_empty_plan() -> None:
    settings = DeploySettings(service_name="nfl", repository="nfl")

    def state(lam: Stubber, ecr: Stubber, iam: Stubber, description: str = "") -> None:
        ecr.add_response("describe_repositories", REPO)
        iam.add_response("get_role", ROLE)
        iam.add_response("get_role", ROLE)  # its tags: no HTTP API of bootstrap's still fronts live
        ecr.add_response("describe_images", {"imageDetails": [{"imageDigest": "sha256:" + "cd" * 32}]})
        lam.add_response(
            "get_function", {"Configuration": {"FunctionName": "nfl", "Description": description}}
        )
        lam.add_response("get_alias", {"Name": "live", "FunctionVersion": "4"})
        if description:  # $LATEST holds the spec: which version holds it too (live serves it: done)
            held = {"Versions": [{"Version": "$LATEST"}, {"Version": "4", "Description": description}]}
            lam.add_response("list_versions_by_function", held)
        _listed(lam)

    target, _ = _lambda(state)
    changed = target.plan(settings, ECR_IMAGE)
    assert _kinds(changed) == ["update_function", "publish_version", "alias"]
    target, stubs = _lambda(lambda *s: state(*s, description=SPEC_PREFIX + changed.spec.spec_hash))
    assert target.plan(settings, ECR_IMAGE).empty
    for stub in stubs:
        stub.assert_no_pending_responses()


def _lambda_plan(previous: str | None, *kinds: str) -> Plan:
    """A plan as LambdaTarget.plan makes it, for an image already in ECR."""
    spec = LambdaSpec(
        digest="sha256:" + "cd" * 32,
        memory=2048,
        timeout=300,
        env={},
        arch="x86_64",
        role="nfl-nfldeploy",
        spec_hash="",
        push_to=None,
        repository="nfl",
        canary=None,
        url_auth="NONE",
        canary_url_auth="AWS_IAM",
        throttling={},
        previous=previous,
    )
    return Plan("lambda", "nfl", ECR_IMAGE, tuple(Action(kind, "nfl") for kind in kinds), spec)


def test_lambda_failed_update_leaves_the_alias_on_the_serving_version() -> None:
    """The waiter sees LastUpdateStatus Failed: a DeployError naming the function and the reason, and the
    alias is never touched (the Stubber would refuse an update_alias call)."""
    failed = {
        "Configuration": {
            "FunctionName": "nfl",
            "State": "Active",
            "LastUpdateStatus": "Failed",
            "LastUpdateStatusReason": "Image manifest not found",
        }
    }

    def state(lam: Stubber, ecr: Stubber, iam: Stubber) -> None:
        lam.add_response("get_alias", {"Name": "live", "FunctionVersion": "4"})
        ecr.add_response("describe_repositories", REPO)
        iam.add_response("get_role", ROLE)
        lam.add_response("get_function", {"Configuration": {"FunctionName": "nfl", "RevisionId": "r1"}})
        lam.add_response("update_function_code", {"FunctionName": "nfl"})
        lam.add_response("get_function", failed)

    target, stubs = _lambda(state)
    plan = _lambda_plan("4", "update_function", "publish_version", "alias")
    with pytest.raises(DeployError) as caught:
        target.apply(plan)
    assert "nfl" in caught.value.message and "Image manifest not found" in caught.value.message
    assert "alias live still serves version 4 (100 %)" in caught.value.message
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_lambda_create_that_never_gets_active() -> None:
    pending = {"Configuration": {"FunctionName": "nfl", "State": "Failed", "StateReason": "InvalidImage"}}

    def state(lam: Stubber, ecr: Stubber, iam: Stubber) -> None:
        lam.add_client_error("get_alias", "ResourceNotFoundException")
        ecr.add_response("describe_repositories", REPO)
        iam.add_response("get_role", ROLE)
        lam.add_response("create_function", {"FunctionName": "nfl"})
        lam.add_response("get_function", pending)

    target, _ = _lambda(state)
    plan = _lambda_plan(None, "create_function")
    with pytest.raises(DeployError, match="create of nfl failed: InvalidImage; nothing serves yet"):
        target.apply(plan)


def test_lambda_limits_are_refused_before_any_call() -> None:
    target, stubs = _lambda(lambda *stubs: None)  # no responses: any AWS call would fail the test
    with pytest.raises(ConfigError, match="Lambda's timeout is at most 900 s"):
        target.plan(DeploySettings(service_name="nfl", timeout=1000), ECR_IMAGE)
    for stub in stubs:
        stub.assert_no_pending_responses()


LOCAL_IMAGE = "nfldeploy/nfl-trajectory:e814d187-lambda"
LOCAL_ID = "sha256:" + "1f" * 32


def _ecr_image(config_digest: str) -> dict[str, Any]:
    manifest = {"schemaVersion": 2, "config": {"digest": config_digest}, "layers": []}
    return {
        "images": [
            {
                "registryId": "123456789012",
                "repositoryName": "nfl",
                "imageId": {"imageDigest": "sha256:" + "cd" * 32, "imageTag": "e814d187-lambda"},
                "imageManifest": json.dumps(manifest),
            }
        ],
        "failures": [],
    }


@pytest.mark.parametrize(("config_digest", "pushes"), [(LOCAL_ID, False), ("sha256:" + "2e" * 32, True)])
def test_lambda_local_image_is_pushed_only_when_ecr_lacks_exactly_it(
    config_digest: str, pushes: bool
) -> None:
    """A local image whose tag in ECR holds the same image (the manifest's config digest is the local image
    id) plans with the ECR digest, like the apply that pushed it recorded; a rebuilt image is pushed."""

    def state(lam: Stubber, ecr: Stubber, iam: Stubber) -> None:
        ecr.add_response("describe_repositories", REPO)
        iam.add_response("get_role", ROLE)
        iam.add_response("get_role", ROLE)  # its tags: no HTTP API of bootstrap's still fronts live
        ecr.add_response("batch_get_image", _ecr_image(config_digest))
        lam.add_response("get_function", {"Configuration": {"FunctionName": "nfl", "Description": ""}})
        lam.add_response("get_alias", {"Name": "live", "FunctionVersion": "4"})
        _listed(lam)

    target, stubs = _lambda(state, local_image_id={LOCAL_IMAGE: LOCAL_ID}.__getitem__)
    plan = target.plan(DeploySettings(service_name="nfl", repository="nfl"), LOCAL_IMAGE)
    assert ("push" in _kinds(plan)) is pushes
    assert plan.spec.digest == (f"local:{LOCAL_ID}" if pushes else "sha256:" + "cd" * 32)
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_lambda_new_role_is_retried_until_lambda_can_assume_it() -> None:
    """Right after create_role (a bootstrap just made it), Lambda refuses the role for a few seconds (IAM
    propagation): the create is retried with backoff, and only that error is retried."""
    not_yet = "The role defined for the function cannot be assumed by Lambda."
    slept: list[float] = []

    def state(lam: Stubber, ecr: Stubber, iam: Stubber, final_error: str | None = None) -> None:
        lam.add_client_error("get_alias", "ResourceNotFoundException")
        ecr.add_response("describe_repositories", REPO)
        iam.add_response("get_role", ROLE)
        lam.add_client_error("create_function", "InvalidParameterValueException", not_yet)
        lam.add_client_error("create_function", "InvalidParameterValueException", not_yet)
        if final_error:
            lam.add_client_error("create_function", "AccessDeniedException", final_error)
            return
        lam.add_response("create_function", {"FunctionName": "nfl"})
        lam.add_response("get_function", {"Configuration": {"FunctionName": "nfl", "State": "Active"}})
        created = {
            "FunctionName": "nfl",
            "Description": SPEC_PREFIX + plan.spec.hashed("sha256:" + "cd" * 32),
        }
        lam.add_response("get_function", {"Configuration": created, "Code": {"ImageUri": ECR_IMAGE}})
        lam.add_response("publish_version", {"Version": "1"})
        lam.add_response("create_alias", {"Name": "live", "FunctionVersion": "1"})
        lam.add_response("get_function_url_config", URL_CONFIG)
        lam.add_response("get_function", {"Code": {"ImageUri": ECR_IMAGE}})

    plan = _lambda_plan(None, "create_function", "publish_version", "alias")
    target, stubs = _lambda(state, sleep=slept.append)
    deployment = target.apply(plan)
    assert deployment.traffic == {"nfl:1": 100} and slept == [1.0, 2.0]
    for stub in stubs:
        stub.assert_no_pending_responses()

    target, _ = _lambda(lambda *s: state(*s, final_error="not allowed"), sleep=slept.append)
    with pytest.raises(DeployError, match="AccessDeniedException: not allowed"):
        target.apply(plan)


def test_lambda_public_url_without_keys_is_refused_unless_asked() -> None:
    target, stubs = _lambda(lambda *stubs: None)  # no responses: any AWS call would fail the test
    assert DeploySettings().function_url_auth == "AWS_IAM"
    with pytest.raises(ConfigError, match="function_url_auth NONE without API keys") as caught:
        target.plan(DeploySettings(service_name="nfl", function_url_auth="NONE"), ECR_IMAGE)
    assert "--allow-unauthenticated" in (caught.value.hint or "")
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_cloudrun_a_tag_is_pinned_to_the_digest_it_points_at_now() -> None:
    """A tag moved to another image plans a new revision (it used to plan 'nothing to change')."""
    tagged = "us-docker.pkg.dev/p/r/nfl:v1"
    digests = iter(["sha256:" + "ab" * 32, "sha256:" + "ef" * 32])
    target = _cloudrun(RemoteState(), resolve=lambda image: next(digests))
    first = target.plan(_settings(), tagged)
    assert first.image == "us-docker.pkg.dev/p/r/nfl@sha256:" + "ab" * 32
    assert first.spec.template["containers"][0]["image"] == first.image
    state = RemoteState(_serving(target, _settings(), {first.spec.revision: 100}))
    moved = _cloudrun(state, resolve=lambda image: next(digests)).plan(_settings(), tagged)
    assert _kinds(moved) == ["update", "traffic"] and moved.spec.revision != first.spec.revision

    def unreachable(image: str) -> str:
        raise RemoteError("registry r not reachable")

    with pytest.raises(DeployError, match=r"cannot resolve .* nothing was changed") as caught:
        _cloudrun(RemoteState(), resolve=unreachable).plan(_settings(), tagged)
    assert caught.value.exit_code == 4


class ChangingState(RemoteState):
    """A service that can be created, whose IAM policy can be written, and that may vanish meanwhile."""

    def __init__(self, vanished: bool = False) -> None:
        super().__init__()
        self.vanished, self.iam_writes = vanished, 0

    def create_service(self, **request: Any) -> Any:
        self.service = request["service"]
        return self

    def result(self, timeout: float) -> Any:  # the long-running operation never finishes here
        raise AssertionError("--no-wait must not wait")

    def get_iam_policy(self, request: dict[str, Any], **call: Any) -> policy_pb2.Policy:
        if self.vanished:
            raise exceptions.NotFound("Resource 'nfl' was not found")
        return super().get_iam_policy(request)

    def set_iam_policy(self, request: dict[str, Any], **call: Any) -> policy_pb2.Policy:
        self.iam_writes += 1
        self.public = True
        return request["policy"]


def test_cloudrun_no_wait_still_makes_the_service_public() -> None:
    state = ChangingState()
    target = _cloudrun(state, wait=False)
    plan = target.plan(_settings(allow_unauthenticated=True), IMAGE)
    assert _kinds(plan) == ["create", "traffic", "iam"]
    target.apply(plan)
    assert state.iam_writes == 1 and state.public


def test_cloudrun_not_found_where_it_should_exist_exits_4() -> None:
    state = ChangingState(vanished=True)
    target = _cloudrun(state)
    state.service = _serving(target, _settings(), {})
    with pytest.raises(DeployError, match=r"reading the IAM policy for nfl failed: .*not found") as caught:
        target.plan(_settings(allow_unauthenticated=True), IMAGE)
    assert caught.value.exit_code == 4
