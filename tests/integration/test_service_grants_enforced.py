"""Lambda's pull and API Gateway's invocation decided on moto's server (tests/service_grants.py, installed by
tests/moto_extensions.py), without Docker (review finding 4): a deploy whose repository policy lacks
Lambda's grant fails with a DeployError that quotes Lambda; bootstrap's HTTP API may invoke alias live."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bootstrapped import bootstrap
from ecr_local import recorded_image
from iam_identities import user_clients
from lambda_state import REGION, service, settings_for
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import PULL_HINT, AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import deployer_policy
from nfldeploy.errors import DeployError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget
from service_grants import PULL_REFUSED, http_api_may_invoke

ACCOUNT = "123456789012"  # moto's
WAIT = {"Delay": 0, "MaxAttempts": 5}
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NOT_LAMBDA = {  # the account's own identities may pull; Lambda's service principal is not named
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AccountPulls",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients(REGION)


def _as_user(aws: AwsClients, aws_env: str, policy: dict[str, Any]) -> AwsClients:
    return user_clients(aws.iam, aws_env, policy, REGION, prefix="user")


def _deployer(aws: AwsClients, aws_env: str, settings: DeploySettings) -> AwsClients:
    policy = deployer_policy(
        REGION,
        settings.service_name,
        settings.repository,
        settings.lambda_endpoint == "api_gateway",
        account=ACCOUNT,
        url_auth=settings.function_url_auth,
        auth=settings.auth,
    )
    return _as_user(aws, aws_env, policy)


def test_a_deploy_without_lambdas_pull_grant_fails_with_a_deploy_error(aws: AwsClients, aws_env: str) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name)
    _, image = service(aws, settings)
    aws.ecr.set_repository_policy(repositoryName=settings.repository, policyText=json.dumps(NOT_LAMBDA))
    deployer = _deployer(aws, aws_env, settings)
    target = LambdaTarget(deployer, name, REGION, waiter_config=WAIT)
    with (
        iam_enforced(),
        pytest.raises(DeployError, match="Lambda does not have permission to access the ECR") as failed,
    ):
        target.apply(target.plan(settings, image))
    assert failed.value.hint == PULL_HINT
    with pytest.raises(aws.lambda_.exceptions.ResourceNotFoundException):
        aws.lambda_.get_function(FunctionName=name)  # nothing half-made
    # the deployer may not set the repository policy, so Lambda could not add its grant itself
    policy = json.loads(aws.ecr.get_repository_policy(repositoryName=settings.repository)["policyText"])
    assert policy == NOT_LAMBDA


def test_bootstraps_repository_policy_lets_the_deployer_create_and_update(
    aws: AwsClients, aws_env: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name)
    _, image = service(aws, settings)
    deployer = _deployer(aws, aws_env, settings)
    target = LambdaTarget(deployer, name, REGION, waiter_config=WAIT)
    with iam_enforced():
        target.apply(target.plan(settings, image))
    aws.ecr.set_repository_policy(repositoryName=settings.repository, policyText=json.dumps(NOT_LAMBDA))
    with iam_enforced(), pytest.raises(ClientError) as refused:
        deployer.lambda_.update_function_code(FunctionName=name, ImageUri=image)
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("InvalidParameterValueException", PULL_REFUSED)


def test_in_its_own_account_lambda_adds_its_grant_for_a_caller_that_may_set_the_policy(
    aws: AwsClients, aws_env: str
) -> None:
    """images-create.html: Lambda adds the two actions itself when the caller may get and set the
    repository policy."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    repository = f"nfl/{name}"
    image = recorded_image(aws.ecr, repository)
    role = bootstrap(aws, settings_for(name)).role_arn
    aws.ecr.delete_repository_policy(repositoryName=repository)
    admin = _as_user(aws, aws_env, ADMIN)
    with iam_enforced():
        admin.lambda_.create_function(
            FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image}
        )
    policy = json.loads(aws.ecr.get_repository_policy(repositoryName=repository)["policyText"])
    (added,) = policy["Statement"]
    assert added["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(added["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def test_an_explicit_deny_to_lambda_refuses_even_an_administrator(aws: AwsClients, aws_env: str) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    repository = f"nfl/{name}"
    image = recorded_image(aws.ecr, repository)
    role = bootstrap(aws, settings_for(name)).role_arn
    policy = json.loads(aws.ecr.get_repository_policy(repositoryName=repository)["policyText"])
    policy["Statement"].append(
        {
            "Sid": "NoLambda",
            "Effect": "Deny",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "ecr:BatchGetImage",
        }
    )
    aws.ecr.set_repository_policy(repositoryName=repository, policyText=json.dumps(policy))
    with pytest.raises(ClientError, match="Lambda does not have permission"):  # enforced or not
        aws.lambda_.create_function(
            FunctionName=name, Role=role, PackageType="Image", Code={"ImageUri": image}
        )


def test_bootstraps_http_api_may_invoke_live_and_a_broken_role_may_not(aws: AwsClients) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name, lambda_endpoint="api_gateway", allow_unauthenticated=True)
    target, image = service(aws, settings)
    target.apply(target.plan(settings, image))
    (api,) = [
        a
        for page in aws.apigateway.get_paginator("get_apis").paginate()  # every page: the server is shared
        for a in page["Items"]
        if a.get("Tags", {}).get("nfldeploy-service") == name
    ]
    verdict = http_api_may_invoke(api["ApiId"], REGION)
    assert verdict.allowed, verdict.reason

    role = f"{name}-nfldeploy-api"
    document = aws.iam.get_role_policy(RoleName=role, PolicyName="nfldeploy-invoke-live")["PolicyDocument"]
    document["Statement"][0]["Resource"] = document["Statement"][0]["Resource"].removesuffix(":live")
    aws.iam.put_role_policy(
        RoleName=role, PolicyName="nfldeploy-invoke-live", PolicyDocument=json.dumps(document)
    )
    verdict = http_api_may_invoke(api["ApiId"], REGION)
    assert not verdict.allowed and "lambda:InvokeFunction" in verdict.reason
