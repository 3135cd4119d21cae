"""The Lambda target against moto's server (ECR, IAM, Lambda, aliases, function URLs, Secrets Manager), with
the image pushed to the local registry, and the deployed function's image driven through the Runtime API."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any

import boto3
import pytest

from ecr_local import MANIFEST_V2, ecr_via_local_registry
from lambda_runtime import RuntimeAPI
from nfldeploy.errors import DeployError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import AwsClients, LambdaTarget, _docker_push, aws_clients

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients("us-east-1")


def _settings(name: str, **values: Any) -> DeploySettings:
    return DeploySettings(
        **{"service_name": name, "repository": f"nfl/{name}", "memory": "1Gi", "timeout": 60, **values}
    )


def _invoke(
    image: str, env: dict[str, str], docker_client: Any, path: str, token: str | None = None
) -> dict[str, Any]:
    """Run the function's image with the function's env and answer one Function URL event."""
    runtime = RuntimeAPI()
    container = docker_client.containers.run(
        image,
        detach=True,
        network_mode="host",
        environment={**env, "AWS_LAMBDA_RUNTIME_API": runtime.address},
    )
    headers = {
        "host": "x.lambda-url.us-east-1.on.aws",
        **({"authorization": f"Bearer {token}"} if token else {}),
    }
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "t",
            },
            "domainName": "x.lambda-url.us-east-1.on.aws",
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "accountId": "anonymous",
            "apiId": "x",
        },
        "isBase64Encoded": False,
    }
    try:
        return dict(runtime.invoke(event, timeout=90))
    except (TimeoutError, RuntimeError) as exc:
        raise AssertionError(f"{exc}\n{container.logs()[-3000:].decode(errors='replace')}") from exc
    finally:
        container.remove(force=True)
        runtime.close()


def _public_statements(aws: AwsClients, name: str) -> list[dict[str, Any]]:
    try:
        policy = json.loads(aws.lambda_.get_policy(FunctionName=name, Qualifier="live")["Policy"])
    except aws.lambda_.exceptions.ResourceNotFoundException:
        return []
    return [s for s in policy["Statement"] if s.get("Principal") in ("*", {"AWS": "*"})]


def test_deploy_secret_canary_promote_rollback(
    aws: AwsClients, aws_env: str, docker_client: Any, registry: Any, lambda_image: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    pushed: dict[str, str] = {}
    target = LambdaTarget(
        aws, name, "us-east-1", push=ecr_via_local_registry(docker_client, registry, aws.ecr, pushed)
    )
    settings = _settings(name)
    plan = target.plan(settings, lambda_image)
    assert [a.kind for a in plan.actions] == [
        "ensure_repository",
        "role",
        "push",
        "create_function",
        "publish_version",
        "alias",
        "function_url",
    ]
    first = target.apply(plan)
    assert first.revision == f"{name}:1" and first.traffic == {f"{name}:1": 100}
    assert first.url.startswith("https://") and ".lambda-url.us-east-1.on.aws" in first.url
    repo = aws.ecr.describe_repositories(repositoryNames=[settings.repository])["repositories"][0]
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    config = aws.lambda_.get_function_configuration(FunctionName=name)
    assert (config["PackageType"], config["MemorySize"], config["Timeout"]) == ("Image", 1024, 60)
    assert config["Architectures"] == ["x86_64"]
    # private by default: the URL takes SigV4-signed calls only, and nothing grants Principal "*"
    assert aws.lambda_.get_function_url_config(FunctionName=name, Qualifier="live")["AuthType"] == "AWS_IAM"
    assert not _public_statements(aws, name)

    # a second deploy of the same local build: nothing to change, no push, no new version
    again = target.plan(settings, lambda_image)
    assert again.empty, again.as_dict()
    assert len(pushed) == 1
    ecr_ref = f"{repo['repositoryUri']}@{next(iter(pushed))}"
    assert target.plan(settings, ecr_ref).empty  # the same image named by its ECR digest: nothing either

    # public on purpose, then private again: the permission follows the URL's auth
    public = _settings(name, function_url_auth="NONE", allow_unauthenticated=True)
    assert [a.kind for a in target.plan(public, ecr_ref).actions] == ["function_url"]
    target.apply(target.plan(public, ecr_ref))
    assert _public_statements(aws, name)
    target.apply(target.plan(settings, ecr_ref))
    assert not _public_statements(aws, name)
    assert len(aws.lambda_.list_versions_by_function(FunctionName=name)["Versions"]) == 2  # $LATEST and 1

    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name=f"{name}-keys", SecretString="lambda-key-1,lambda-key-2")["ARN"]
    secured = _settings(name, auth=True, api_keys_secret=arn)
    plan = target.plan(secured, ecr_ref)
    assert [a.kind for a in plan.actions] == ["secret_ref", "update_function", "publish_version", "alias"]
    assert "lambda-key-1" not in json.dumps(plan.as_dict()) and arn in json.dumps(plan.as_dict())
    second = target.apply(plan)
    assert second.traffic == {f"{name}:2": 100} and second.previous == f"{name}:1"
    env = aws.lambda_.get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    assert env["NFLDEPLOY_API_KEYS_SECRET_ARN"] == arn and "lambda-key-1" not in json.dumps(env)
    role_policy = aws.iam.get_role_policy(RoleName=f"{name}-nfldeploy", PolicyName="read-api-keys")
    assert arn in json.dumps(role_policy["PolicyDocument"])

    # the function's image with the function's env reads the keys from Secrets Manager at init
    aws_env_vars = {
        **env,
        "AWS_ENDPOINT_URL": aws_env,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret-value",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    image = pushed[next(iter(pushed))]
    assert _invoke(image, aws_env_vars, docker_client, "/version")["statusCode"] == 401
    assert _invoke(image, aws_env_vars, docker_client, "/version", token="lambda-key-2")["statusCode"] == 200

    canary = target.apply(
        target.plan(_settings(name, auth=True, api_keys_secret=arn, timeout=30), ecr_ref, canary=20)
    )
    assert canary.traffic == {f"{name}:2": 80, f"{name}:3": 20}
    assert target.status()["traffic"] == canary.traffic
    promoted = target.apply(target.plan_promote())
    assert promoted.traffic == {f"{name}:3": 100}
    rolled = target.rollback()
    assert rolled.traffic == {f"{name}:2": 100}
    assert [r["name"] for r in target.status()["revisions"]] == [f"{name}:1", f"{name}:2", f"{name}:3"]


def test_an_image_missing_from_ecr_changes_nothing(
    aws: AwsClients, docker_client: Any, registry: Any, lambda_image: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    target = LambdaTarget(
        aws, name, "us-east-1", push=ecr_via_local_registry(docker_client, registry, aws.ecr, {})
    )
    first = target.apply(target.plan(_settings(name), lambda_image))
    uri = aws.ecr.describe_repositories(repositoryNames=[f"nfl/{name}"])["repositories"][0]["repositoryUri"]
    with pytest.raises(DeployError, match=r"is not in the ECR repository.*nothing was changed"):
        target.plan(_settings(name), f"{uri}@sha256:{'0' * 64}")
    assert target.status()["traffic"] == first.traffic == {f"{name}:1": 100}


def test_the_default_push_goes_to_exactly_the_repository_uri(
    aws: AwsClients, docker_client: Any, registry: Any, lambda_image: str
) -> None:
    """The target's own push (an ECR token from moto, the real engine) to a registry standing in for ECR's
    endpoint: the image lands under exactly the reference asked for, whatever its local name."""
    destination = f"{registry.address}/ecr-repo/{uuid.uuid4().hex[:6]}:v1"
    digest = _docker_push("us-east-1", aws.ecr)(lambda_image, destination)
    name, tag = destination.rsplit(":", 1)
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{name.split('/', 1)[1]}/manifests/{tag}",
        headers={"Accept": MANIFEST_V2},
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["Docker-Content-Digest"] == digest
    docker_client.images.remove(destination, force=True)
