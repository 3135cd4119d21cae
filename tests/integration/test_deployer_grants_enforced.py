"""What the identity holding exactly the rendered deployer policy may grant on the function, on moto's server
with IAM enforced (tests/moto_extensions.py evaluates lambda:Principal and lambda:FunctionUrlAuthType on
AddPermission), without Docker (review finding 2):

- with AWS_IAM URLs (the default) it may grant nothing at all;
- with a public URL it may add statements for "*" only, and one naming an auth type must name NONE (it then
  holds only for calls through the public URL: the key is absent from every other request). The Service
  Authorization Reference gives AddPermission no key naming the granted action
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html), so a grant to "*"
  of another action cannot be refused by IAM: the next deploy finds and revokes it;
- behind an HTTP API it may not grant API Gateway (any account's) anything: the integration invokes alias
  live as the role bootstrap made."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iam_identities import user_clients
from lambda_state import REGION, public_grants, service, settings_for
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import deployer_policy
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget

ACCOUNT = "123456789012"  # moto's
WAIT = {"Delay": 0, "MaxAttempts": 5}


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients(REGION)


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
    return user_clients(aws.iam, aws_env, policy, REGION, prefix="deployer")


def _grant(deployer: AwsClients, name: str, sid: str, **request: Any) -> str:
    """AddPermission on alias live as the deployer: "allowed", "denied" (403: AccessDeniedException, which
    moto's server sends without a body) or the error code."""
    try:
        deployer.lambda_.add_permission(FunctionName=name, Qualifier="live", StatementId=sid, **request)
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403:
            return "denied"
        return str(exc.response["Error"]["Code"])
    return "allowed"


def _deployed(aws: AwsClients, settings: DeploySettings) -> tuple[LambdaTarget, str]:
    target, image = service(aws, settings, waiter_config=WAIT)
    target.apply(target.plan(settings, image))
    return target, image


def test_with_iam_urls_the_deployer_may_grant_nothing(aws: AwsClients, aws_env: str) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name)
    _deployed(aws, settings)
    deployer = _deployer(aws, aws_env, settings)
    with iam_enforced():
        found = _grant(
            deployer, name, "x", Action="lambda:InvokeFunctionUrl", Principal="*", FunctionUrlAuthType="NONE"
        )
    assert found == "denied"


def test_a_public_url_deployer_grants_the_public_url_only_and_deploy_revokes_strays(
    aws: AwsClients, aws_env: str
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name, allow_unauthenticated=True, function_url_auth="NONE")
    _, image = _deployed(aws, settings)
    deployer = _deployer(aws, aws_env, settings)
    with iam_enforced():
        refused = {
            "auth type AWS_IAM": _grant(
                deployer,
                name,
                "a",
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="AWS_IAM",
            ),
            "another account": _grant(
                deployer, name, "b", Action="lambda:InvokeFunction", Principal="999999999999"
            ),
            "API Gateway": _grant(
                deployer, name, "c", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com"
            ),
        }
        # what IAM cannot refuse (no key names the granted action): a grant to "*" of another action
        stray = _grant(deployer, name, "stray", Action="lambda:GetFunction", Principal="*")
        # one naming auth type NONE holds only through the URL, yet is no grant nfldeploy makes either
        through_url = _grant(
            deployer, name, "odd", Action="lambda:GetFunction", Principal="*", FunctionUrlAuthType="NONE"
        )
    assert refused == dict.fromkeys(refused, "denied")
    assert stray == through_url == "allowed"
    assert sorted(public_grants(aws, name)["live"]) == [
        "lambda:GetFunction",
        "lambda:GetFunction",
        "lambda:InvokeFunction",
        "lambda:InvokeFunctionUrl",
    ]

    deploying = LambdaTarget(deployer, name, REGION, waiter_config=WAIT)
    with iam_enforced():
        plan = deploying.plan(settings, image)
        assert [(a.kind, a.subject) for a in plan.actions] == [
            ("revoke_grant", "live/stray"),
            ("revoke_grant", "live/odd"),
        ]
        deploying.apply(plan)
        assert deploying.plan(settings, image).empty
    assert public_grants(aws, name)["live"] == ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]


def test_deploy_revokes_a_stray_grant_with_an_unchanged_image(aws: AwsClients) -> None:
    """The revocation does not wait for a new image: an unchanged re-run of the release removes it."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name)
    target, image = _deployed(aws, settings)
    aws.lambda_.add_permission(
        FunctionName=name, Qualifier="live", StatementId="all", Action="lambda:*", Principal="*"
    )
    plan = target.plan(settings, image)
    assert [a.kind for a in plan.actions] == ["revoke_grant"]
    target.apply(plan)
    assert public_grants(aws, name) == {}


def test_an_image_function_takes_no_zip_code(aws: AwsClients, aws_env: str) -> None:
    """Finding 4: UpdateFunctionCode has no condition key for the code's source (the Service Authorization
    Reference lists none for it but lambda:CodeSigningConfigArn), yet it cannot swap an image function's
    code for an inline .zip outside ECR: "If the function's package type is Image, then you must specify the
    code package in ImageUri" (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html),
    as the stand-in answers (tests/moto_extensions.py, _keeping_package_type)."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = settings_for(name)
    _deployed(aws, settings)
    deployer = _deployer(aws, aws_env, settings)
    with iam_enforced(), pytest.raises(ClientError) as refused:
        deployer.lambda_.update_function_code(FunctionName=name, ZipFile=b"PK\x05\x06" + b"\0" * 18)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "ImageUri" in refused.value.response["Error"]["Message"]
