"""AddPermission's Principal in moto's stand-in as Lambda's policy states it (tests/moto_extensions.py): an
account ID becomes the account's root, an IAM user's or role's ARN ``{"AWS": ARN}``, a service
``{"Service": ...}``, "*" stays (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html,
https://docs.aws.amazon.com/lambda/latest/dg/permissions-function-cross-account.html); and the evaluator
then lets exactly that principal in."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import boto3
import pytest

from aws_rules import policy_of
from iam_evaluation import Decision, Principal, decide

REGION = "us-east-1"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("111122223333", {"AWS": "arn:aws:iam::111122223333:root"}),
        ("arn:aws:iam::123456789012:user/caller", {"AWS": "arn:aws:iam::123456789012:user/caller"}),
        ("arn:aws:iam::123456789012:role/ci", {"AWS": "arn:aws:iam::123456789012:role/ci"}),
        ("apigateway.amazonaws.com", {"Service": "apigateway.amazonaws.com"}),
        ("*", "*"),
    ],
)
def test_a_permission_names_its_principal_as_a_policy_does(aws_env: str, given: str, stored: object) -> None:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    aws = boto3.client("lambda", endpoint_url=aws_env, region_name=REGION)
    name = f"fn-{uuid.uuid4().hex[:6]}"
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    aws.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    aws.get_waiter("function_active_v2").wait(FunctionName=name)
    aws.publish_version(FunctionName=name)
    aws.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    aws.add_permission(
        FunctionName=name, Qualifier="live", StatementId="s", Action="lambda:InvokeFunction", Principal=given
    )
    policy = policy_of(aws, name, "live")
    assert policy is not None
    (statement,) = policy["Statement"]
    assert statement["Principal"] == stored
    resource = statement["Resource"]
    caller = Principal(arn="arn:aws:iam::123456789012:user/caller", account="123456789012")
    allowed = decide([], "lambda:InvokeFunction", resource, {}, resource_policy=policy, principal=caller)
    assert (allowed is Decision.ALLOW) is (given in ("*", "arn:aws:iam::123456789012:user/caller")), allowed
    aws.delete_function(FunctionName=name)
