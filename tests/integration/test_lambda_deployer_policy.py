"""The deployer policy ``render`` writes (aws/deployer-policy.json) is enough for every Lambda operation after
``nfldeploy bootstrap``, and nothing in it is spare where the test can tell: an identity holding exactly that
policy deploys, canaries, promotes, rolls back, reads status and logs behind an AWS_IAM function URL, and
(the settings changed, bootstrap run again, the policy rendered again) serves through the HTTP API, against
moto's server with IAM enforced (tests/moto_extensions.py: resource-level checks, API Gateway's verbs,
iam:PassRole). The canary's check is stubbed here: the signed request through the URL is not (yet) routed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from bootstrapped import bootstrap
from ecr_local import ecr_via_local_registry
from lambda_state import url_configs
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.cloud.lambda_deployer import deployer_policy as policy_for
from nfldeploy.errors import DeployError
from nfldeploy.service_logs import LogQuery
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's: the rendered policy names the account


def _settings(name: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=name, repository=f"nfl/{name}", memory="1Gi", timeout=60, **values)


def _admin(aws_env: str) -> AwsClients:
    """The account's admin (the environment's credentials), who runs nfldeploy bootstrap."""
    session = boto3.Session(region_name=REGION)
    return AwsClients(
        *(session.client(service, endpoint_url=aws_env) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=aws_env),
        logs=session.client("logs", endpoint_url=aws_env),
        secrets=session.client("secretsmanager", endpoint_url=aws_env),
    )


def _deployer(aws_env: str, policy: dict[str, Any]) -> AwsClients:
    """Clients of a new IAM user whose only permissions are ``policy`` (made before enforcement starts)."""
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    user = f"deployer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="nfldeploy-deployer", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    return AwsClients(
        *(session.client(service, endpoint_url=aws_env) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=aws_env),
        logs=session.client("logs", endpoint_url=aws_env),
    )


def deployer_policy(settings: DeploySettings) -> dict[str, Any]:
    return policy_for(
        settings.aws_region,
        settings.service_name,
        settings.repository,
        settings.lambda_endpoint == "api_gateway",
        account=ACCOUNT,
        url_auth=settings.function_url_auth,
        auth=settings.auth,
    )


def _target(
    deployer: AwsClients, name: str, docker_client: Any, registry: Any, **options: Any
) -> LambdaTarget:
    push = ecr_via_local_registry(docker_client, registry, deployer.ecr, {})
    return LambdaTarget(deployer, name, REGION, push=push, verify=lambda _url: None, **options)


def test_the_rendered_deployer_policy_is_enough_for_every_lambda_operation(
    aws_env: str, docker_client: Any, registry: Any, lambda_image: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = _settings(name)  # AWS_IAM function URLs, the default
    admin = _admin(aws_env)
    bootstrap(admin, settings)
    deployer = _deployer(aws_env, deployer_policy(settings))
    with iam_enforced():
        target = _target(deployer, name, docker_client, registry)
        first = target.apply(target.plan(settings, lambda_image))
        assert first.traffic == {f"{name}:1": 100} and first.url
        canary = target.apply(
            target.plan(settings.model_copy(update={"timeout": 31}), lambda_image, canary=20)
        )
        assert canary.traffic == {f"{name}:1": 80, f"{name}:2": 20}
        assert target.apply(target.plan_promote()).traffic == {f"{name}:2": 100}
        assert target.rollback().traffic == {f"{name}:1": 100}
        assert target.status().url == first.url
        assert list(target.logs(LogQuery(limit=5))) == []  # the function never ran: its log group is empty
    # the canary's URL ended with its canary (promote and rollback remove it): only live's is left, AWS_IAM
    assert url_configs(admin, name) == {"live": "AWS_IAM"}

    fronted_settings = _settings(name, lambda_endpoint="api_gateway", allow_unauthenticated=True)
    bootstrap(admin, fronted_settings)  # the settings changed: bootstrap again, render the policy again
    fronted_deployer = _deployer(aws_env, deployer_policy(fronted_settings))
    with iam_enforced():
        behind_api = _target(fronted_deployer, name, docker_client, registry, endpoint="api_gateway")
        fronted = behind_api.apply(behind_api.plan(fronted_settings, lambda_image))
        assert fronted.url and "execute-api" in fronted.url
        slower = fronted_settings.model_copy(update={"rate_limit_rps": 5.0})
        assert behind_api.apply(behind_api.plan(slower, lambda_image)).url == fronted.url  # PATCH the stage


@pytest.mark.parametrize(
    ("missing", "refused"),
    [("lambda:PublishVersion", "lambda:PublishVersion"), ("iam:PassRole", "iam:PassRole")],
)
def test_without_one_permission_the_deploy_stops_naming_it(
    aws_env: str, docker_client: Any, registry: Any, lambda_image: str, missing: str, refused: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    bootstrap(_admin(aws_env), _settings(name))
    policy = deployer_policy(_settings(name))
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [action for action in actions if action != missing] or ["lambda:ListTags"]
    deployer = _deployer(aws_env, policy)
    with iam_enforced():
        target = _target(deployer, name, docker_client, registry)
        with pytest.raises(DeployError, match=refused) as failed:
            target.apply(target.plan(_settings(name), lambda_image))
    assert "Traceback" not in str(failed.value)


def test_the_policy_of_another_service_opens_nothing_of_this_one(
    aws_env: str, docker_client: Any, registry: Any, lambda_image: str
) -> None:
    """Resource-level: every statement names this service's function, role, repository or log group."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    bootstrap(_admin(aws_env), _settings(name))
    deployer = _deployer(aws_env, deployer_policy(_settings(f"other-{name}")))
    with iam_enforced():
        target = _target(deployer, name, docker_client, registry)
        with pytest.raises(DeployError, match="not authorized"):
            target.plan(_settings(name), lambda_image)
