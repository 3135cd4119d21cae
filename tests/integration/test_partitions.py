"""ARNs nfldeploy writes follow the caller's partition: AWS China (aws-cn) and GovCloud (aws-us-gov) refuse
``arn:aws:...``; bootstrap and deploy write each ARN (logs, the repository policy, the API's integration and its role) in the
caller's partition. Against moto's server, without Docker."""

from __future__ import annotations

import json
import uuid

import pytest

from bootstrapped import bootstrap
from ecr_local import recorded_image
from nfldeploy.cloud.aws import AwsCalls, aws_clients, is_arn_of, partition_of
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.lambda_endpoints import LambdaEndpoints


def test_partition_of_and_is_arn_of() -> None:
    assert partition_of("arn:aws-cn:lambda:cn-north-1:123456789012:function:f") == "aws-cn"
    assert partition_of("arn:aws-us-gov:iam::123456789012:role/r") == "aws-us-gov"
    assert partition_of("arn:aws:sts::123456789012:user/u") == "aws"
    assert is_arn_of("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:k-Ab12Cd", "secretsmanager")
    assert not is_arn_of("projects/p/secrets/k", "secretsmanager")
    assert not is_arn_of("arn:aws:s3:::bucket", "secretsmanager")


@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_the_role_and_the_api_permission_use_the_callers_partition(
    aws_env: str, monkeypatch: pytest.MonkeyPatch, region: str, partition: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    aws = aws_clients(region)
    name = f"fn-{uuid.uuid4().hex[:6]}"
    calls = AwsCalls(name, sleep=lambda _: None)
    settings = DeploySettings(
        service_name=name,
        aws_region=region,
        repository=f"nfl/{name}",
        lambda_endpoint="api_gateway",
        allow_unauthenticated=True,
    )
    done = bootstrap(aws, settings)
    role_arn = done.role_arn
    assert partition_of(role_arn) == partition
    assert aws.iam.list_attached_role_policies(RoleName=f"{name}-nfldeploy")["AttachedPolicies"] == []
    document = aws.iam.get_role_policy(RoleName=f"{name}-nfldeploy", PolicyName="nfldeploy-execution")
    assert f"arn:{partition}:logs:{region}:" in json.dumps(document["PolicyDocument"])
    repository_policy = aws.ecr.get_repository_policy(repositoryName=f"nfl/{name}")["policyText"]
    assert f"arn:{partition}:lambda:{region}:" in repository_policy

    image = recorded_image(aws.ecr, f"nfl/{name}")
    aws.lambda_.create_function(
        FunctionName=name, Role=role_arn, PackageType="Image", Code={"ImageUri": image}
    )
    aws.lambda_.get_waiter("function_active_v2").wait(FunctionName=name)  # Pending until then
    version = aws.lambda_.publish_version(FunctionName=name)["Version"]
    aws.lambda_.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    LambdaEndpoints(aws, calls, name, region, "api_gateway").ensure_api({"rate": 10, "burst": 20})
    # the API invokes live as bootstrap's role (no grant to API Gateway): its ARN, the integration's URI and
    # what the role may invoke are in the caller's partition
    (integration,) = aws.apigateway.get_integrations(ApiId=done.api_id)["Items"]
    assert integration["CredentialsArn"].startswith(f"arn:{partition}:iam::")
    assert integration["IntegrationUri"].startswith(f"arn:{partition}:lambda:{region}:")
    invoke = aws.iam.get_role_policy(RoleName=f"{name}-nfldeploy-api", PolicyName="nfldeploy-invoke-live")
    assert f"arn:{partition}:lambda:{region}:" in json.dumps(invoke["PolicyDocument"])
