"""The deployer's policy holds what the settings need and nothing that creates or changes IAM; the
execution role's grants the secret as IAM matches it."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from nfldeploy.cloud.lambda_deployer import deployer_policy, execution_role_policy, secret_resources

ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:nfl"


def _policy(**options: Any) -> dict[str, Any]:
    api = options.pop("api_gateway", False)
    return deployer_policy("us-east-1", "nfl", "nfl/repo", api, account=ACCOUNT, **options)


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
    assert passing["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/nfl-nfldeploy"
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
    """The InvokeFunctionUrl grant must name auth type NONE (no IfExists: review finding 2); the
    InvokeFunction grant names none, and AddPermission has no key for the action it grants, so that statement
    can only require principal "*" and no auth type (tests/unit/test_deployer_grants.py decides both)."""
    policy = _policy(url_auth="NONE", auth=True)
    url, invoke = _statements(policy, "lambda:AddPermission")
    assert url["Sid"] == "PublicUrlGrant" and invoke["Sid"] == "PublicUrlInvokeGrant"
    assert url["Resource"] == invoke["Resource"] == [f"{FUNCTION}:live", f"{FUNCTION}:canary"]
    assert url["Condition"] == {
        "StringEquals": {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"}
    }
    assert invoke["Condition"] == {
        "StringEquals": {"lambda:Principal": "*"},
        "Null": {"lambda:FunctionUrlAuthType": "true"},
    }
    assert "IfExists" not in str(policy)
    assert _statements(policy, "lambda:InvokeFunctionUrl") == []  # nothing to sign
    (create,) = _statements(policy, "lambda:CreateFunctionUrlConfig")
    assert create["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": ["NONE"]}}


def test_the_http_api_statements_are_this_services_api_only() -> None:
    """No AddPermission for apigateway.amazonaws.com (the integration invokes as bootstrap's role), no
    listing of the account's APIs (deploy reads the recorded one), the stage PATCH without access logs."""
    policy = _policy(api_gateway=True, auth=True)
    grants = {s["Sid"]: s for s in _statements(policy, "lambda:AddPermission")}
    assert set(grants) == {"PublicUrlGrant", "PublicUrlInvokeGrant"}  # the canary's public URL only
    assert grants["PublicUrlGrant"]["Resource"] == [f"{FUNCTION}:canary"]
    api = {s["Sid"]: s for s in policy["Statement"] if str(s["Action"]).count("apigateway:")}
    assert set(api) == {"HttpApi", "HttpApiThrottling"}
    tagged = {"aws:ResourceTag/nfldeploy-service": "nfl"}
    assert api["HttpApi"] == {
        "Sid": "HttpApi",
        "Effect": "Allow",
        "Action": "apigateway:GET",
        "Resource": "arn:aws:apigateway:us-east-1::/apis/*",
        "Condition": {"StringEquals": tagged},
    }
    assert api["HttpApiThrottling"]["Action"] == "apigateway:PATCH"
    assert api["HttpApiThrottling"]["Resource"] == "arn:aws:apigateway:us-east-1::/apis/*/stages/$default"
    assert api["HttpApiThrottling"]["Condition"] == {
        "StringEquals": tagged,
        "Null": {
            "apigateway:Request/AccessLoggingDestination": "true",
            "apigateway:Request/AccessLoggingFormat": "true",
        },
    }
    open_api = _policy(api_gateway=True)
    assert _statements(open_api, "lambda:AddPermission") == []
    assert _statements(open_api, "lambda:InvokeFunctionUrl")[0]["Resource"] == [f"{FUNCTION}:canary"]


FULL = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf"


@pytest.mark.parametrize(
    ("given", "granted"),
    [
        (FULL, [FULL, FULL + "-??????"]),  # ends like a random suffix: full, or a partial one named so
        (FULL.removesuffix("-AbCdEf"), FULL.removesuffix("-AbCdEf") + "-??????"),
        ("projects/p/secrets/k", "projects/p/secrets/k"),  # not Secrets Manager's: left as it is
    ],
)
def test_the_role_grants_the_full_arn_or_name_and_six_characters(
    given: str, granted: str | list[str]
) -> None:
    assert secret_resources(given) == ([granted] if isinstance(granted, str) else granted)
    (read,) = [
        s
        for s in execution_role_policy("us-east-1", "nfl", given, account=ACCOUNT)["Statement"]
        if s["Sid"] == "ReadApiKeys"
    ]
    assert read["Resource"] == granted
    if given.startswith("arn:"):
        resources = granted if isinstance(granted, list) else [granted]
        assert any(
            fnmatch.fnmatchcase(FULL, r) for r in resources
        )  # IAM's "?" is one character, as fnmatch's


def test_bootstrap_grants_exactly_the_arn_it_completed() -> None:
    (_, read) = execution_role_policy("us-east-1", "nfl", FULL, account=ACCOUNT, exact=True)["Statement"]
    assert read["Resource"] == FULL


def test_the_execution_role_writes_its_own_log_group_only() -> None:
    (logs,) = execution_role_policy("cn-north-1", "nfl", None, account=ACCOUNT)["Statement"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == f"arn:aws-cn:logs:cn-north-1:{ACCOUNT}:log-group:/aws/lambda/nfl:*"


@pytest.mark.parametrize("options", SHAPES)
def test_each_policy_is_its_own_copy(options: dict[str, Any]) -> None:
    """A caller editing one rendered policy (a test narrowing it, a user's script) changes no later one."""
    expected = json.dumps(_policy(**options), sort_keys=True)
    first = _policy(**options)
    for statement in first["Statement"]:
        if isinstance(statement["Action"], list):
            statement["Action"].clear()
    assert json.dumps(_policy(**options), sort_keys=True) == expected
