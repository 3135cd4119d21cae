"""moto's server, the AWS stand-in the Lambda target's tests talk to."""

from __future__ import annotations


def test_moto_server_speaks_the_aws_api(aws_env: str) -> None:
    import boto3

    ecr = boto3.client("ecr", endpoint_url=aws_env, region_name="us-east-1")
    repo = ecr.create_repository(repositoryName="nfl-trajectory")["repository"]
    assert repo["repositoryName"] == "nfl-trajectory"
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "nfl-trajectory" in names


def _role(aws_env: str, name: str) -> str:
    """A role Lambda may assume (moto checks the trust policy)."""
    import json

    import boto3

    iam = boto3.client("iam", endpoint_url=aws_env, region_name="us-east-1")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def test_function_urls_belong_to_their_alias_as_on_aws(aws_env: str) -> None:
    """moto_extensions: one URL per qualifier, with AWS's errors (moto kept one per function)."""
    import io
    import zipfile

    import boto3
    import pytest
    from botocore.exceptions import ClientError

    role = _role(aws_env, "url-test")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    aws = boto3.client("lambda", endpoint_url=aws_env, region_name="us-east-1")
    aws.create_function(
        FunctionName="url-test",
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
        Publish=True,
    )
    for alias in ("live", "canary"):
        aws.create_alias(FunctionName="url-test", Name=alias, FunctionVersion="1")

    live = aws.create_function_url_config(FunctionName="url-test", Qualifier="live", AuthType="AWS_IAM")
    canary = aws.create_function_url_config(FunctionName="url-test", Qualifier="canary", AuthType="NONE")
    assert live["FunctionUrl"] != canary["FunctionUrl"] and live["FunctionUrl"].endswith(".on.aws/")
    unqualified = aws.get_function(FunctionName="url-test")["Configuration"]["FunctionArn"]
    assert canary["FunctionArn"] == f"{unqualified}:canary"
    got = aws.get_function_url_config(FunctionName="url-test", Qualifier="live")
    assert (got["FunctionUrl"], got["AuthType"]) == (live["FunctionUrl"], "AWS_IAM")

    def refused(call: object, **arguments: str) -> str:
        with pytest.raises(ClientError) as caught:
            call(FunctionName="url-test", **arguments)  # type: ignore[operator]
        return str(caught.value.response["Error"]["Code"])

    create = aws.create_function_url_config
    assert refused(create, Qualifier="live", AuthType="NONE") == "ResourceConflictException"
    assert refused(create, Qualifier="nope", AuthType="NONE") == "ResourceNotFoundException"
    assert refused(create, Qualifier="1", AuthType="NONE") == "ValidationException"  # a version, not an alias
    aws.delete_function_url_config(FunctionName="url-test", Qualifier="canary")
    assert refused(aws.get_function_url_config, Qualifier="canary") == "ResourceNotFoundException"
    assert refused(aws.delete_function_url_config, Qualifier="canary") == "ResourceNotFoundException"
    assert (
        aws.get_function_url_config(FunctionName="url-test", Qualifier="live")["FunctionUrl"]
        == live["FunctionUrl"]
    )


def test_a_function_change_settles_before_the_next_as_on_aws(aws_env: str) -> None:
    """moto_extensions: Pending after create, InProgress after an update; another update or a publish before
    anyone looked is refused, as AWS does."""
    import boto3
    import pytest
    from botocore.exceptions import ClientError

    aws = boto3.client("lambda", endpoint_url=aws_env, region_name="us-east-1")
    role = _role(aws_env, "settle-test")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl:v1"
    created = aws.create_function(
        FunctionName="settle", Role=role, PackageType="Image", Code={"ImageUri": image}
    )
    assert created["State"] == "Pending"
    with pytest.raises(ClientError, match="An update is in progress") as caught:
        aws.publish_version(FunctionName="settle")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    aws.get_waiter("function_active_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    updated = aws.update_function_code(FunctionName="settle", ImageUri=image.replace("v1", "v2"))
    assert updated["LastUpdateStatus"] == "InProgress"
    with pytest.raises(ClientError, match="An update is in progress"):
        aws.update_function_configuration(FunctionName="settle", MemorySize=1024)
    aws.get_waiter("function_updated_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    aws.update_function_configuration(FunctionName="settle", MemorySize=1024)
    aws.get_waiter("function_updated_v2").wait(FunctionName="settle", WaiterConfig={"Delay": 1})
    assert aws.publish_version(FunctionName="settle")["Version"] == "1"
