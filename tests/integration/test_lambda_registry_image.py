"""``deploy --target lambda --image <registry reference>`` on a runner that never built the image: the plan
reads the registry's manifest (no local engine), and the apply copies it registry to registry, blob by blob
(the real copy code, with the local registry standing in for ECR's storage and moto recording the manifest).
An ECR image URI plans from ECR alone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest
from typer.testing import CliRunner

from bootstrapped import bootstrap
from nfldeploy.cli.app import app
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.errors import ConfigError, RemoteError
from nfldeploy.image.push import push_image
from nfldeploy.image.remote import RemoteImage, copy_image, read_image
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget
from services import TEST_REPOSITORY

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _no_engine(image: str) -> str | None:
    raise AssertionError(f"the local engine was asked for {image}")


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients("us-east-1")


@pytest.fixture
def registry_only(docker_client: Any, registry: Any, lambda_image: str) -> str:
    """The Lambda image pushed to the local registry under a tag the local engine does not have."""
    name = f"{TEST_REPOSITORY}released-{uuid.uuid4().hex[:6]}"
    reference, _ = push_image(
        docker_client, lambda_image, registry.address, destination=f"{registry.address}/{name}:v1"
    )
    docker_client.images.remove(reference)  # only the tag: the engine keeps the layers of lambda_image
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(reference)
    return reference


def test_a_registry_image_is_planned_and_copied_without_the_local_engine(
    aws: AwsClients, registry: Any, registry_only: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    copied: list[str] = []

    def copy_to_ecr(image: RemoteImage, reference: str) -> str:
        """ECR's storage is a repository of the local registry; moto records the manifest ECR would hold."""
        storage = f"{registry.address}/{TEST_REPOSITORY}ecr-{name}:{reference.rsplit(':', 1)[1]}"
        digest = copy_image(image, storage)
        repository = reference.split("/", 1)[1].rsplit(":", 1)[0]
        recorded = aws.ecr.put_image(
            repositoryName=repository,
            imageManifest=image.manifest.decode(),
            imageTag=reference.rsplit(":", 1)[1],
        )
        copied.append(storage)
        assert digest == image.digest  # the registry stored the manifest byte for byte
        return str(recorded["image"]["imageId"]["imageDigest"])  # moto re-serialises: its digest differs

    target = LambdaTarget(aws, name, "us-east-1", local_image_id=lambda _image: None, copy=copy_to_ecr)
    settings = DeploySettings(service_name=name, repository=f"nfl/{name}", memory="1Gi", timeout=60)
    bootstrap(aws, settings)
    source = read_image(registry_only)
    plan = target.plan(settings, registry_only)
    kinds = [a.kind for a in plan.actions]
    assert "copy" in kinds and "push" not in kinds, kinds
    assert plan.spec.digest == source.digest  # type: ignore[attr-defined]
    assert source.labels["io.nfldeploy.kind"] == "lambda"  # the lineage travels in the config's labels
    deployed = target.apply(plan)
    assert deployed.revision == f"{name}:1"
    code = aws.lambda_.get_function(FunctionName=name)["Code"]
    assert code["ImageUri"].startswith(
        aws.ecr.describe_repositories(repositoryNames=[f"nfl/{name}"])["repositories"][0]["repositoryUri"]
        + "@sha256:"
    )
    assert read_image(copied[0]).image_id == source.image_id  # every blob arrived
    again = LambdaTarget(aws, name, "us-east-1", local_image_id=lambda _image: None, copy=copy_to_ecr)
    assert again.plan(settings, registry_only).empty  # ECR holds it now: nothing to copy or change


def test_the_cli_plans_a_registry_image_on_a_runner_without_docker(
    aws: AwsClients, registry_only: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")  # no engine on this runner
    name = f"fn-{uuid.uuid4().hex[:6]}"
    bootstrap(aws, DeploySettings(service_name=name))
    args = ["deploy", "--target", "lambda", "--dry-run", "--json", "--set", f"service_name={name}"]
    result = CliRunner().invoke(app, [*args, "--image", registry_only, "--export-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    actions = {a["kind"]: a for a in json.loads(result.stdout)["plan"]["actions"]}
    assert "registry to registry" in actions["copy"]["detail"]
    # a bare name is neither local nor in a registry: the hint never suggests the --image just given
    bare = CliRunner().invoke(app, [*args, "--image", "nfl-api:v1", "--export-dir", str(tmp_path)])
    assert bare.exit_code == 1 and "names no registry" in bare.stderr
    assert "--image" not in bare.stderr


def test_an_ecr_image_is_planned_from_ecr_alone(aws: AwsClients, registry: Any, registry_only: str) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    uri = aws.ecr.create_repository(repositoryName=f"nfl/{name}")["repository"]["repositoryUri"]
    aws.ecr.put_image(
        repositoryName=f"nfl/{name}", imageManifest=read_image(registry_only).manifest.decode(), imageTag="v1"
    )
    target = LambdaTarget(aws, name, "us-east-1", local_image_id=_no_engine)
    settings = DeploySettings(service_name=name, repository=f"nfl/{name}")
    bootstrap(aws, settings)  # the repository exists: scan on push and Lambda's pull grant are added
    plan = target.plan(settings, f"{uri}:v1")
    kinds = [a.kind for a in plan.actions]
    assert "push" not in kinds and "copy" not in kinds and "create_function" in kinds


def test_a_local_name_the_engine_lacks_is_a_clear_error(aws: AwsClients) -> None:
    target = LambdaTarget(aws, "fn-x", "us-east-1", local_image_id=lambda _image: None)
    bootstrap(aws, DeploySettings(service_name="fn-x", repository="nfl/fn-x"))
    with pytest.raises(ConfigError) as info:
        target.plan(DeploySettings(service_name="fn-x", repository="nfl/fn-x"), "nfl-api:v1")
    assert "--image" not in (info.value.hint or "") and "registry reference" in (info.value.hint or "")


def test_a_private_registry_is_read_and_copied_with_its_credentials(
    docker_client: Any, auth_registry: Any, registry: Any, lambda_image: str
) -> None:
    credentials = {"username": "tester", "password": "s3cret-pw"}
    name = f"{TEST_REPOSITORY}private-{uuid.uuid4().hex[:6]}"
    reference, _ = push_image(
        docker_client, lambda_image, auth=credentials, destination=f"{auth_registry.address}/{name}:v1"
    )
    docker_client.images.remove(reference)
    with pytest.raises(RemoteError, match="refused"):
        read_image(reference)  # no credentials: the registry's 401, as a clear error
    image = read_image(reference, credentials)
    copy = f"{registry.address}/{name}-copy:v1"
    assert copy_image(image, copy, source_auth=credentials) == image.digest
    assert read_image(copy).image_id == image.image_id
