"""moto's server keeps a Lambda resource policy per function and per qualifier, as Lambda does
(tests/moto_extensions.py): AddPermission, GetPolicy and RemovePermission take a ``Qualifier``, "a version or
alias" (https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html,
https://docs.aws.amazon.com/lambda/latest/api/API_GetPolicy.html,
https://docs.aws.amazon.com/lambda/latest/api/API_RemovePermission.html). moto kept one per function object,
so two aliases on one version shared their statements."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_rules import policy_of, public_url_refusal
from iam_evaluation import ANONYMOUS, Decision, Principal, decide

REGION = "us-east-1"


def _lambda(aws_env: str) -> Any:
    return boto3.client("lambda", endpoint_url=aws_env, region_name=REGION)


@pytest.fixture
def function(aws_env: str) -> Iterator[str]:
    """A function with version 1, and the aliases live and canary both on it (the case moto mixed up)."""
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    name = f"fn-{uuid.uuid4().hex[:6]}"
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    aws = _lambda(aws_env)
    aws.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    aws.get_waiter("function_active_v2").wait(FunctionName=name)
    aws.publish_version(FunctionName=name)
    for alias in ("live", "canary"):
        aws.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
    yield name
    aws.delete_function(FunctionName=name)


def _error(call: Any, **arguments: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    return str(caught.value.response["Error"]["Code"])


def _sids(aws: Any, name: str, qualifier: str | None) -> list[str]:
    options = {"Qualifier": qualifier} if qualifier else {}
    policy = json.loads(aws.get_policy(FunctionName=name, **options)["Policy"])
    return [statement["Sid"] for statement in policy["Statement"]]


def _grant(aws: Any, name: str, sid: str, qualifier: str | None = None, **extra: Any) -> dict[str, Any]:
    options = {"Qualifier": qualifier} if qualifier else {}
    answer = aws.add_permission(
        FunctionName=name,
        StatementId=sid,
        Action=extra.pop("Action", "lambda:InvokeFunction"),
        Principal=extra.pop("Principal", "apigateway.amazonaws.com"),
        **options,
        **extra,
    )
    statement: dict[str, Any] = json.loads(answer["Statement"])
    return statement


def test_a_statement_on_one_qualifier_is_in_no_other_policy(aws_env: str, function: str) -> None:
    aws = _lambda(aws_env)
    statement = _grant(aws, function, "canary-only", "canary")
    assert statement["Resource"].endswith(f":function:{function}:canary")
    assert _sids(aws, function, "canary") == ["canary-only"]
    for other in ("live", "1", None):  # another alias on the same version, the version, the function
        assert _error(aws.get_policy, FunctionName=function, **({"Qualifier": other} if other else {})) == (
            "ResourceNotFoundException"
        )
    _grant(aws, function, "function-wide")
    assert _sids(aws, function, None) == ["function-wide"]
    assert _sids(aws, function, "canary") == ["canary-only"]
    _grant(aws, function, "on-version", "1")
    assert _sids(aws, function, "1") == ["on-version"]
    assert _error(aws.get_policy, FunctionName=function, Qualifier="live") == "ResourceNotFoundException"


def test_a_statement_id_is_unique_per_qualifier(aws_env: str, function: str) -> None:
    """ResourceConflictException: "The resource already exists" (API_AddPermission.html, Errors)."""
    aws = _lambda(aws_env)
    _grant(aws, function, "api", "live")
    assert _error(
        aws.add_permission,
        FunctionName=function,
        Qualifier="live",
        StatementId="api",
        Action="lambda:InvokeFunction",
        Principal="*",
    ) == ("ResourceConflictException")
    _grant(aws, function, "api", "canary")  # the same id on another qualifier is another statement
    _grant(aws, function, "api")
    assert (
        _sids(aws, function, "live")
        == _sids(aws, function, "canary")
        == _sids(aws, function, None)
        == ["api"]
    )


def test_remove_permission_takes_the_statement_from_its_qualifier_only(aws_env: str, function: str) -> None:
    """RemovePermission of a statement the qualifier's policy does not hold is ResourceNotFoundException
    (API_RemovePermission.html, Errors: "The resource specified in the request does not exist")."""
    aws = _lambda(aws_env)
    _grant(aws, function, "api", "live")
    _grant(aws, function, "api", "canary")
    assert (
        _error(aws.remove_permission, FunctionName=function, StatementId="api") == "ResourceNotFoundException"
    )
    assert (
        _error(aws.remove_permission, FunctionName=function, Qualifier="live", StatementId="unknown")
        == "ResourceNotFoundException"
    )
    aws.remove_permission(FunctionName=function, Qualifier="live", StatementId="api")
    assert _error(aws.get_policy, FunctionName=function, Qualifier="live") == "ResourceNotFoundException"
    assert _sids(aws, function, "canary") == ["api"]
    assert (
        _error(aws.remove_permission, FunctionName=function, Qualifier="live", StatementId="api")
        == "ResourceNotFoundException"
    )


def test_an_unknown_qualifier_or_function_is_not_found(aws_env: str, function: str) -> None:
    aws = _lambda(aws_env)
    for call in (
        lambda: _grant(aws, function, "x", "staging"),
        lambda: aws.get_policy(FunctionName=function, Qualifier="7"),
        lambda: aws.remove_permission(FunctionName=function, Qualifier="staging", StatementId="x"),
        lambda: aws.get_policy(FunctionName=f"{function}-missing"),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_url_grants_keep_their_conditions_and_the_canary_is_checked_on_its_own_policy(
    aws_env: str, function: str
) -> None:
    """AddPermission's FunctionUrlAuthType and InvokedViaFunctionUrl become the statement's conditions
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html); a public URL on live does not open the
    canary's: the canary needs its own two grants."""
    aws = _lambda(aws_env)
    url = _grant(
        aws,
        function,
        "public-url",
        "live",
        Principal="*",
        Action="lambda:InvokeFunctionUrl",
        FunctionUrlAuthType="NONE",
    )
    assert url["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    invoke = _grant(aws, function, "public-invoke", "live", Principal="*", InvokedViaFunctionUrl=True)
    assert invoke["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    assert public_url_refusal(policy_of(aws, function, "live")) is None
    assert (
        public_url_refusal(policy_of(aws, function, "canary")) is not None
    )  # moto answered live's statements
    _grant(
        aws,
        function,
        "public-url",
        "canary",
        Principal="*",
        Action="lambda:InvokeFunctionUrl",
        FunctionUrlAuthType="NONE",
    )
    assert "InvokeFunction to *" in str(public_url_refusal(policy_of(aws, function, "canary")))


def test_the_stored_api_gateway_grant_admits_only_its_api(aws_env: str, function: str) -> None:
    """AddPermission's SourceArn becomes ArnLike on aws:SourceArn (API_AddPermission.html: "the ARN of the
    resource that invokes the function"); evaluated on the qualifier's own policy, another API's call and a
    call to another alias are refused."""
    aws = _lambda(aws_env)
    account = "123456789012"
    api = f"arn:aws:execute-api:{REGION}:{account}:abc123"
    _grant(aws, function, "api", "live", SourceArn=f"{api}/*")
    live = f"arn:aws:lambda:{REGION}:{account}:function:{function}:live"
    gateway = Principal(arn="apigateway.amazonaws.com", account="", service="apigateway.amazonaws.com")
    policy = policy_of(aws, function, "live")
    assert policy is not None
    ours = {"aws:SourceArn": f"{api}/$default/POST/predict"}
    theirs = {"aws:SourceArn": f"arn:aws:execute-api:{REGION}:{account}:other/$default/POST/predict"}
    invoke = "lambda:InvokeFunction"
    assert decide([], invoke, live, ours, resource_policy=policy, principal=gateway) is Decision.ALLOW
    assert (
        decide([], invoke, live, theirs, resource_policy=policy, principal=gateway) is Decision.IMPLICIT_DENY
    )
    assert (
        decide([], invoke, live, ours, resource_policy=policy, principal=ANONYMOUS) is Decision.IMPLICIT_DENY
    )
    canary = live.removesuffix(":live") + ":canary"
    assert (
        decide([], invoke, canary, ours, resource_policy=policy, principal=gateway) is Decision.IMPLICIT_DENY
    )
