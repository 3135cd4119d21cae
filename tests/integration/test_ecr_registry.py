"""The registry standing behind moto's ECR (tests/ecr_registry.py): nfldeploy's own push reaches it with ECR's
token, what it holds is what moto's ECR answers, with the pushed bytes' digest, and Lambda takes exactly that;
a wrong token is refused as ECR refuses it."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

import ecr_registry
from nfldeploy.errors import PushError
from nfldeploy.image.push import push_image, push_to_ecr

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REGION = "us-east-1"


def test_a_push_with_the_ecr_token_is_what_moto_and_lambda_see(
    aws_env: str, ecr_behind_moto: ecr_registry.EcrRegistry, docker_client: Any, lambda_image: str
) -> None:
    ecr = boto3.client("ecr", endpoint_url=aws_env, region_name=REGION)
    name = f"nfl/ecr-{uuid.uuid4().hex[:6]}"
    uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    assert uri == f"{ecr_behind_moto.address}/{name}"
    assert ecr.describe_images(repositoryName=name)["imageDetails"] == []

    digest = push_to_ecr(lambda_image, f"{uri}:v1", REGION, ecr)  # nfldeploy's push, moto's token

    (detail,) = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert detail["imageDigest"] == digest and detail["imageTags"] == ["v1"]
    (held,) = ecr_behind_moto.pushed(name).values()
    assert held[0] == digest  # the registry's digest of the bytes: ECR keeps it
    lambda_ = boto3.client("lambda", endpoint_url=aws_env, region_name=REGION)
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    role = iam.create_role(
        RoleName=f"r-{uuid.uuid4().hex[:6]}",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]
    created = lambda_.create_function(
        FunctionName=f"fn-{uuid.uuid4().hex[:6]}",
        PackageType="Image",
        Code={"ImageUri": f"{uri}@{digest}"},
        Role=role,
    )
    assert created["PackageType"] == "Image"
    missing = "sha256:" + "0" * 64
    with pytest.raises(lambda_.exceptions.InvalidParameterValueException, match="does not exist"):
        lambda_.create_function(
            FunctionName=f"fn-{uuid.uuid4().hex[:6]}",
            PackageType="Image",
            Code={"ImageUri": f"{uri}@{missing}"},
            Role=role,
        )


def test_a_wrong_token_is_refused(
    aws_env: str, ecr_behind_moto: ecr_registry.EcrRegistry, docker_client: Any, lambda_image: str
) -> None:
    ecr = boto3.client("ecr", endpoint_url=aws_env, region_name=REGION)
    name = f"nfl/ecr-{uuid.uuid4().hex[:6]}"
    uri = ecr.create_repository(repositoryName=name)["repository"]["repositoryUri"]
    with pytest.raises(PushError):
        push_image(
            docker_client,
            lambda_image,
            auth={"username": "AWS", "password": "not-the-token"},
            destination=f"{uri}:v1",
        )
    assert ecr.describe_images(repositoryName=name)["imageDetails"] == []
