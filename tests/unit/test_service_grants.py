"""The decisions AWS's services make for nfldeploy's resources (tests/service_grants.py), on the policies the
product writes: Lambda pulling the image under the repository policy, API Gateway invoking alias live as the
integration's role (review finding 4)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from iam_evaluation import Decision
from nfldeploy.cloud.lambda_deployer import API_TRUST, api_role_policy
from nfldeploy.targets.lambda_bootstrap import pull_statement, with_pull_statement
from service_grants import integration_may_invoke, invoked_function, lambda_own_grant, pull_decision

ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn"
REPOSITORY = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/nfl/fn"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/fn-nfldeploy-api"
API = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123/*"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# -- Lambda's pull -------------------------------------------------------------------------------------------


def test_bootstraps_pull_statement_lets_lambda_pull_for_this_function_only() -> None:
    policy = with_pull_statement(None, FUNCTION)
    assert pull_decision(policy, REPOSITORY, FUNCTION) is Decision.ALLOW
    other = FUNCTION.replace(":function:fn", ":function:other")
    assert pull_decision(policy, REPOSITORY, other) is Decision.IMPLICIT_DENY


def test_a_policy_without_lambdas_grant_refuses_the_pull() -> None:
    account_only = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    )
    assert pull_decision(None, REPOSITORY, FUNCTION) is Decision.IMPLICIT_DENY
    assert pull_decision(account_only, REPOSITORY, FUNCTION) is Decision.IMPLICIT_DENY


def test_both_actions_are_needed() -> None:
    statement = copy.deepcopy(pull_statement(FUNCTION))
    statement["Action"] = ["ecr:BatchGetImage"]
    assert pull_decision(_policy(statement), REPOSITORY, FUNCTION) is Decision.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, Decision.ALLOW),
        ({"StringEquals": {"aws:SourceAccount": "999999999999"}}, Decision.IMPLICIT_DENY),
        ({"ArnLike": {"aws:SourceArn": FUNCTION}}, Decision.ALLOW),
        ({"ArnLike": {"aws:SourceArn": FUNCTION.replace(":fn", ":other")}}, Decision.IMPLICIT_DENY),
    ],
)
def test_source_conditions_are_decided(condition: dict[str, Any], expected: Decision) -> None:
    statement = {**pull_statement(FUNCTION), "Condition": condition}
    assert pull_decision(_policy(statement), REPOSITORY, FUNCTION) is expected


def test_an_explicit_deny_to_lambda_wins() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "ecr:GetDownloadUrlForLayer",
    }
    policy = with_pull_statement(_policy(deny), FUNCTION)
    assert pull_decision(policy, REPOSITORY, FUNCTION) is Decision.EXPLICIT_DENY


def test_lambdas_own_grant_lets_it_pull_for_any_function() -> None:
    """What Lambda writes itself has no source condition: any function of any account (bootstrap refuses it)."""
    policy = _policy(lambda_own_grant())
    assert pull_decision(policy, REPOSITORY, FUNCTION) is Decision.ALLOW
    elsewhere = FUNCTION.replace(ACCOUNT, "999999999999")
    assert pull_decision(policy, REPOSITORY, elsewhere) is Decision.ALLOW


# -- API Gateway invoking alias live as the integration's role ----------------------------------------------


def _integration(uri: str = f"{FUNCTION}:live") -> dict[str, Any]:
    return {"CredentialsArn": ROLE, "IntegrationUri": uri}


def test_the_api_may_invoke_live_as_bootstraps_role() -> None:
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    verdict = integration_may_invoke(_integration(), API_TRUST, [role_policy], api_arn=API)
    assert verdict.allowed, verdict.reason


def test_a_grant_on_the_unqualified_arn_does_not_cover_the_alias() -> None:
    """The reviewer's mutation: InvokeLive on the function's unqualified ARN; since January 2022 Lambda
    authorizes a call on alias live against the qualified ARN, so every request would fail."""
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    role_policy["Statement"][0]["Resource"] = FUNCTION
    verdict = integration_may_invoke(_integration(), API_TRUST, [role_policy], api_arn=API)
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert "lambda:InvokeFunction" in verdict.reason


def test_the_role_must_trust_api_gateway() -> None:
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    lambda_trust = copy.deepcopy(API_TRUST)
    lambda_trust["Statement"][0]["Principal"] = {"Service": "lambda.amazonaws.com"}
    verdict = integration_may_invoke(_integration(), lambda_trust, [role_policy], api_arn=API)
    assert not verdict.allowed and "trust policy" in verdict.reason


def test_a_trust_tied_to_a_source_key_is_refused_as_the_keys_are_undocumented() -> None:
    """API Gateway's documentation does not say it sends aws:SourceArn when assuming the role: a trust
    policy that needs it must hold in every shape, and does not."""
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    tied = copy.deepcopy(API_TRUST)
    tied["Statement"][0]["Condition"] = {"ArnLike": {"aws:SourceArn": API}}
    verdict = integration_may_invoke(_integration(), tied, [role_policy], api_arn=API)
    assert not verdict.allowed


def test_an_integration_without_credentials_is_refused() -> None:
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    verdict = integration_may_invoke(
        {"IntegrationUri": f"{FUNCTION}:live"}, API_TRUST, [role_policy], api_arn=API
    )
    assert not verdict.allowed


@pytest.mark.parametrize(
    "uri",
    [
        f"{FUNCTION}:live",
        f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}:live/invocations",
    ],
)
def test_both_documented_uri_shapes_name_the_alias(uri: str) -> None:
    assert invoked_function(uri) == f"{FUNCTION}:live"
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    assert integration_may_invoke(_integration(uri), API_TRUST, [role_policy], api_arn=API).allowed
    canary = uri.replace(":live", ":canary")
    assert not integration_may_invoke(_integration(canary), API_TRUST, [role_policy], api_arn=API).allowed


def test_an_explicit_deny_in_the_role_wins() -> None:
    role_policy = api_role_policy("us-east-1", "fn", account=ACCOUNT)
    deny = _policy({"Effect": "Deny", "Action": "lambda:*", "Resource": "*"})
    verdict = integration_may_invoke(_integration(), API_TRUST, [role_policy, deny], api_arn=API)
    assert verdict.decision is Decision.EXPLICIT_DENY
