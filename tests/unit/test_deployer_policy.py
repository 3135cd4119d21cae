"""The deployer's policy holds what the settings need and nothing that creates or changes IAM; the
execution role's grants the secret as IAM matches it."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from nfldeploy.cloud.lambda_deployer import deployer_policy, execution_role_policy, secret_resource

FUNCTION = "arn:aws:lambda:us-east-1:*:function:nfl"


def _policy(**options: Any) -> dict[str, Any]:
    api = options.pop("api_gateway", False)
    return deployer_policy("us-east-1", "nfl", "nfl/repo", api, **options)


def _statements(policy: dict[str, Any], action: str) -> list[dict[str, Any]]:
    def actions(s: dict[str, Any]) -> list[str]:
        return [s["Action"]] if isinstance(s["Action"], str) else s["Action"]

    return [s for s in policy["Statement"] if action in actions(s)]


SHAPES = [
    {},
    {"url_auth": "NONE", "auth": True},
    {"url_auth": "NONE"},
    {"api_gateway": True, "auth": True},
    {"api_gateway": True},
]


@pytest.mark.parametrize("options", SHAPES)
def test_nothing_creates_or_changes_iam_or_repositories(options: dict[str, Any]) -> None:
    policy = _policy(**options)
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not [a for a in actions if a.startswith(("iam:Create", "iam:Attach", "iam:Put", "iam:Update"))]
    assert not actions & {
        "ecr:CreateRepository",
        "ecr:SetRepositoryPolicy",
        "apigateway:POST",
        "apigateway:DELETE",
    }
    (passing,) = _statements(policy, "iam:PassRole")
    assert passing["Resource"] == "arn:aws:iam::*:role/nfl-nfldeploy"
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}


def test_an_iam_url_lets_the_deployer_sign_its_own_checks_and_grant_nothing() -> None:
    policy = _policy()
    assert _statements(policy, "lambda:AddPermission") == []  # no public grant, no API grant
    (url,) = _statements(policy, "lambda:InvokeFunctionUrl")
    (invoke,) = _statements(policy, "lambda:InvokeFunction")
    assert url["Resource"] == invoke["Resource"] == [f"{FUNCTION}:live", f"{FUNCTION}:canary"]
    assert url["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    assert invoke["Condition"] == {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}
    (create,) = _statements(policy, "lambda:CreateFunctionUrlConfig")
    assert create["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": ["AWS_IAM"]}}


def test_a_public_url_may_grant_the_public_only() -> None:
    policy = _policy(url_auth="NONE", auth=True)
    (grant,) = _statements(policy, "lambda:AddPermission")
    assert grant["Resource"] == [f"{FUNCTION}:live", f"{FUNCTION}:canary"]
    assert grant["Condition"] == {
        "StringEquals": {"lambda:Principal": "*"},
        "StringEqualsIfExists": {"lambda:FunctionUrlAuthType": "NONE"},
    }
    assert _statements(policy, "lambda:InvokeFunctionUrl") == []  # nothing to sign
    (create,) = _statements(policy, "lambda:CreateFunctionUrlConfig")
    assert create["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": ["NONE"]}}


def test_the_http_api_statements_are_this_services_api_only() -> None:
    policy = _policy(api_gateway=True, auth=True)
    grants = {s["Sid"]: s for s in _statements(policy, "lambda:AddPermission")}
    assert grants["ApiGatewayGrant"]["Resource"] == f"{FUNCTION}:live"
    assert grants["ApiGatewayGrant"]["Condition"] == {
        "StringEquals": {"lambda:Principal": "apigateway.amazonaws.com"}
    }
    assert grants["PublicUrlGrants"]["Resource"] == [f"{FUNCTION}:canary"]  # the canary's public URL
    api = {s["Sid"]: s for s in policy["Statement"] if str(s["Action"]).count("apigateway:")}
    assert api["HttpApiList"] == {
        "Sid": "HttpApiList",
        "Effect": "Allow",
        "Action": "apigateway:GET",
        "Resource": "arn:aws:apigateway:us-east-1::/apis",
    }
    assert api["HttpApiStage"]["Resource"] == "arn:aws:apigateway:us-east-1::/apis/*/stages/*"
    assert api["HttpApiStage"]["Condition"] == {"StringEquals": {"aws:ResourceTag/nfldeploy-service": "nfl"}}
    assert set(api) == {"HttpApiList", "HttpApiStage"}
    open_api = _policy(api_gateway=True)
    assert [s["Sid"] for s in _statements(open_api, "lambda:AddPermission")] == ["ApiGatewayGrant"]
    assert _statements(open_api, "lambda:InvokeFunctionUrl")[0]["Resource"] == [f"{FUNCTION}:canary"]


FULL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf"


@pytest.mark.parametrize(
    ("given", "granted"),
    [
        (FULL, FULL),
        (FULL.removesuffix("-AbCdEf"), FULL.removesuffix("-AbCdEf") + "-??????"),
        ("projects/p/secrets/k", "projects/p/secrets/k"),  # not Secrets Manager's: left as it is
    ],
)
def test_the_role_grants_the_full_arn_or_name_and_six_characters(given: str, granted: str) -> None:
    assert secret_resource(given) == granted
    (read,) = [
        s for s in execution_role_policy("us-east-1", "nfl", given)["Statement"] if s["Sid"] == "ReadApiKeys"
    ]
    assert read["Resource"] == granted
    if given.startswith("arn:"):
        assert fnmatch.fnmatchcase(FULL, read["Resource"])  # IAM's "?" is one character, as fnmatch's


def test_the_execution_role_writes_its_own_log_group_only() -> None:
    (logs,) = execution_role_policy("cn-north-1", "nfl", None)["Statement"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == "arn:aws-cn:logs:cn-north-1:*:log-group:/aws/lambda/nfl:*"
