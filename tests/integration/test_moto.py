"""moto's server, the AWS stand-in the Lambda target's tests talk to, with the rules tests/moto_extensions.py
makes it keep as AWS does."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ecr_local import recorded_image


def test_moto_server_speaks_the_aws_api(aws_env: str) -> None:
    ecr = boto3.client("ecr", endpoint_url=aws_env, region_name="us-east-1")
    repo = ecr.create_repository(repositoryName="nfl-trajectory")["repository"]
    assert repo["repositoryName"] == "nfl-trajectory"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "nfl-trajectory" in names


def _client(aws_env: str, service: str, region: str = "us-east-1") -> Any:
    return boto3.client(service, endpoint_url=aws_env, region_name=region)


def _role(aws_env: str, name: str) -> str:
    """A role Lambda may assume (moto checks the trust policy)."""
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = _client(aws_env, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _refused(call: Any, **arguments: Any) -> str:
    """The error code AWS (here: moto with the extensions) answers ``call`` with."""
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    return str(caught.value.response["Error"]["Code"])


def test_function_urls_belong_to_their_alias_as_on_aws(aws_env: str) -> None:
    """One URL per qualifier, with AWS's errors (moto kept one per function)."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    aws = _client(aws_env, "lambda")
    aws.create_function(
        FunctionName="url-test",
        Runtime="python3.11",
        Role=_role(aws_env, "url-test"),
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Publish=True,
    )
    aws.get_waiter("function_active_v2").wait(FunctionName="url-test")
    for alias in ("live", "canary"):
        aws.create_alias(FunctionName="url-test", Name=alias, FunctionVersion="1")

    live = aws.create_function_url_config(FunctionName="url-test", Qualifier="live", AuthType="AWS_IAM")
    canary = aws.create_function_url_config(FunctionName="url-test", Qualifier="canary", AuthType="NONE")
    assert live["FunctionUrl"] != canary["FunctionUrl"] and live["FunctionUrl"].endswith(".on.aws/")
    unqualified = aws.get_function(FunctionName="url-test")["Configuration"]["FunctionArn"]
    assert canary["FunctionArn"] == f"{unqualified}:canary"
    got = aws.get_function_url_config(FunctionName="url-test", Qualifier="live")
    assert (got["FunctionUrl"], got["AuthType"]) == (live["FunctionUrl"], "AWS_IAM")

    create = aws.create_function_url_config
    for qualifier, error in (
        ("live", "ResourceConflictException"),  # it exists
        ("nope", "ResourceNotFoundException"),  # no such alias
        ("1", "ValidationException"),  # a version, not an alias
    ):
        assert _refused(create, FunctionName="url-test", Qualifier=qualifier, AuthType="NONE") == error
    aws.delete_function_url_config(FunctionName="url-test", Qualifier="canary")
    for call in (aws.get_function_url_config, aws.delete_function_url_config):
        assert _refused(call, FunctionName="url-test", Qualifier="canary") == "ResourceNotFoundException"
    still = aws.get_function_url_config(FunctionName="url-test", Qualifier="live")
    assert still["FunctionUrl"] == live["FunctionUrl"]


def test_a_function_change_settles_before_the_next_as_on_aws(aws_env: str) -> None:
    """Pending after create, InProgress after an update; another update or a publish before anyone looked is
    refused, as AWS does."""
    aws = _client(aws_env, "lambda")
    ecr = _client(aws_env, "ecr")
    first, second = recorded_image(ecr, "settle", "v1"), recorded_image(ecr, "settle", "v2")
    role = _role(aws_env, "settle-test")
    created = aws.create_function(
        FunctionName="settle", Role=role, PackageType="Image", Code={"ImageUri": first}
    )
    assert created["State"] == "Pending"
    assert _refused(aws.publish_version, FunctionName="settle") == "ResourceConflictException"
    aws.get_waiter("function_active_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    updated = aws.update_function_code(FunctionName="settle", ImageUri=second)
    assert updated["LastUpdateStatus"] == "InProgress"
    assert (
        _refused(aws.update_function_configuration, FunctionName="settle", MemorySize=1024)
        == "ResourceConflictException"
    )
    aws.get_waiter("function_updated_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    aws.update_function_configuration(FunctionName="settle", MemorySize=1024)
    aws.get_waiter("function_updated_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    assert aws.publish_version(FunctionName="settle")["Version"] == "1"


def test_an_image_function_needs_a_single_platform_image_in_ecr_in_its_region(aws_env: str) -> None:
    aws = _client(aws_env, "lambda")
    ecr = _client(aws_env, "ecr")
    role = _role(aws_env, "image-test")
    present = recorded_image(ecr, "images", "v1")

    def create(uri: str) -> str:
        return _refused(
            aws.create_function,
            FunctionName="image-fn",
            Role=role,
            PackageType="Image",
            Code={"ImageUri": uri},
        )

    assert create(present.replace(":v1", ":v9")) == "InvalidParameterValueException"  # no such tag
    assert create(present.replace("images", "nowhere")) == "InvalidParameterValueException"  # no such repo
    elsewhere = recorded_image(_client(aws_env, "ecr", "eu-west-1"), "images", "v1")
    assert create(elsewhere) == "InvalidParameterValueException"  # another region than the function's
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "size": 2,
                "digest": "sha256:" + "a" * 64,
            }
        ],
    }
    ecr.put_image(repositoryName="images", imageManifest=json.dumps(index), imageTag="multi")
    assert create(present.replace(":v1", ":multi")) == "InvalidParameterValueException"  # multi-platform
    digest = ecr.describe_images(repositoryName="images", imageIds=[{"imageTag": "v1"}])["imageDetails"][0]
    by_digest = present.replace(":v1", "@" + digest["imageDigest"])
    function = aws.create_function(
        FunctionName="image-fn", Role=role, PackageType="Image", Code={"ImageUri": by_digest}
    )
    assert function["PackageType"] == "Image"
    aws.get_waiter("function_active_v2").wait(FunctionName="image-fn", WaiterConfig={"Delay": 1})
    assert (
        _refused(aws.update_function_code, FunctionName="image-fn", ImageUri=present.replace(":v1", ":v9"))
        == "InvalidParameterValueException"
    )
