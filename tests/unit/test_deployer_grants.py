"""What the rendered deployer and execution-role policies let a hostile holder do, decided by the stand-in's
IAM evaluation (tests/iam_evaluation.py) on the files ``render --only lambda`` writes (review findings 2, 4,
6, 7, 8). Each refusal here was an allow before the fix."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from iam_evaluation import Decision, Principal, decide
from manifests import sample_manifest
from nfldeploy.errors import ConfigError
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings

OURS, THEIRS = "123456789012", "999999999999"
CI = Principal(arn=f"arn:aws:iam::{OURS}:user/ci", account=OURS)
FUNCTION = f"arn:aws:lambda:us-east-1:{OURS}:function:nfl-trajectory"
STAGE = "arn:aws:apigateway:us-east-1::/apis/abc123/stages/$default"
TAGGED = {"aws:ResourceTag/nfldeploy-service": "nfl-trajectory"}


def _render(tmp_path: Path, **settings: Any) -> dict[str, dict[str, Any]]:
    inputs = views.Inputs(
        DeploySettings(**{"aws_account_id": OURS, **settings}),
        sample_manifest(),
        "r/i:1",
        f"{OURS}.dkr.ecr.us-east-1.amazonaws.com/n:1",
    )
    render_all(inputs, tmp_path, ["lambda"])
    return {
        name: json.loads((tmp_path / f"aws/{name}-policy.json").read_text())
        for name in ("deployer", "execution-role")
    }


def _deployer(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return _render(tmp_path, **settings)["deployer"]


def test_the_deployer_may_not_grant_any_api_gateway_of_any_account(tmp_path: Path) -> None:
    """Finding 2: AddPermission to apigateway.amazonaws.com cannot be limited to one API (the Service
    Authorization Reference has no SourceArn key for it), so any account's API could have been let invoke
    alias live. The deployer now grants nothing: the integration invokes as bootstrap's role."""
    policy = _deployer(tmp_path, lambda_endpoint="api_gateway", allow_unauthenticated=True)
    for qualifier in ("live", "canary"):
        assert (
            decide(
                [policy],
                "lambda:AddPermission",
                f"{FUNCTION}:{qualifier}",
                {"lambda:Principal": "apigateway.amazonaws.com"},
            )
            is Decision.IMPLICIT_DENY
        )


def test_a_public_url_grant_must_name_auth_type_none(tmp_path: Path) -> None:
    """Finding 2: a statement the deployer adds with an auth type is NONE's; AWS_IAM or another principal
    is refused. (No key names the granted action, so IAM allows what the older IfExists condition allowed:
    the deploy removes strays, tests/integration/test_deployer_grants_enforced.py.)"""
    policy = _deployer(
        tmp_path,
        function_url_auth="NONE",
        auth=True,
        api_keys_secret="arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf",
    )
    live = f"{FUNCTION}:live"
    grant = "lambda:AddPermission"
    assert (
        decide([policy], grant, live, {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "NONE"})
        is Decision.ALLOW
    )
    assert (
        decide([policy], grant, live, {"lambda:Principal": "*", "lambda:FunctionUrlAuthType": "AWS_IAM"})
        is Decision.IMPLICIT_DENY
    )
    assert decide([policy], grant, live, {"lambda:Principal": THEIRS}) is Decision.IMPLICIT_DENY
    assert decide([policy], grant, FUNCTION, {"lambda:Principal": "*"}) is Decision.IMPLICIT_DENY  # $LATEST


@pytest.mark.parametrize("account", [None, OURS])
def test_no_statement_reaches_another_accounts_function_repository_role_or_logs(
    tmp_path: Path, account: str | None
) -> None:
    """Finding 4: "*" stood for the account in every ARN, so the deployer could read or push a same-named
    repository of another account (which lets it in), update its function, pass its role. Rendered without
    aws_account_id the policy names a placeholder account (grants nothing); with it, that account only."""
    policy = _deployer(tmp_path, aws_account_id=account)
    theirs = {
        "ecr:BatchGetImage": f"arn:aws:ecr:us-east-1:{THEIRS}:repository/nfldeploy/nfl-trajectory",
        "ecr:PutImage": f"arn:aws:ecr:us-east-1:{THEIRS}:repository/nfldeploy/nfl-trajectory",
        "lambda:UpdateFunctionCode": f"arn:aws:lambda:us-east-1:{THEIRS}:function:nfl-trajectory",
        "iam:PassRole": f"arn:aws:iam::{THEIRS}:role/nfl-trajectory-nfldeploy",
        "logs:FilterLogEvents": f"arn:aws:logs:us-east-1:{THEIRS}:log-group:/aws/lambda/nfl-trajectory",
    }
    repository_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": CI.arn}, "Action": "ecr:*", "Resource": "*"}],
    }
    context = {"iam:PassedToService": "lambda.amazonaws.com"}
    for action, resource in theirs.items():
        assert (
            decide([policy], action, resource, context, resource_policy=repository_policy, principal=CI)
            is Decision.IMPLICIT_DENY
        ), action
    if account:
        ours = f"arn:aws:ecr:us-east-1:{OURS}:repository/nfldeploy/nfl-trajectory"
        assert decide([policy], "ecr:BatchGetImage", ours, {}, principal=CI) is Decision.ALLOW
        assert OURS in json.dumps(policy) and ":*:" not in json.dumps(policy)


def test_the_stage_patch_may_not_set_access_logs(tmp_path: Path) -> None:
    """Finding 6: the throttling PATCH may not point the stage's access logs elsewhere nor change their
    format (apigateway:Request/AccessLoggingDestination, .../AccessLoggingFormat)."""
    policy = _deployer(tmp_path, lambda_endpoint="api_gateway", allow_unauthenticated=True)
    assert decide([policy], "apigateway:PATCH", STAGE, TAGGED) is Decision.ALLOW  # throttling alone
    destination = {
        "apigateway:Request/AccessLoggingDestination": f"arn:aws:logs:us-east-1:{THEIRS}:log-group:x"
    }
    assert decide([policy], "apigateway:PATCH", STAGE, {**TAGGED, **destination}) is Decision.IMPLICIT_DENY
    log_format = {"apigateway:Request/AccessLoggingFormat": "$context.identity.sourceIp"}
    assert decide([policy], "apigateway:PATCH", STAGE, {**TAGGED, **log_format}) is Decision.IMPLICIT_DENY
    assert decide([policy], "apigateway:PATCH", STAGE, {}) is Decision.IMPLICIT_DENY  # another API's stage


def test_a_partial_arn_that_looks_complete_still_reads_its_secret(tmp_path: Path) -> None:
    """Finding 7: secret:nfl-keys-prod01 ends like a random suffix but is a partial ARN; granting exactly
    that string matched no secret and locked the function out. Such an ARN is granted as itself and as
    name-?????? in the rendered files (bootstrap completes it with DescribeSecret and grants the full ARN)."""
    partial = f"arn:aws:secretsmanager:us-east-1:{OURS}:secret:nfl-keys-prod01"
    full = f"{partial}-AbCdEf"
    rendered = _render(tmp_path, function_url_auth="NONE", auth=True, api_keys_secret=partial)
    (read,) = [s for s in rendered["execution-role"]["Statement"] if s["Sid"] == "ReadApiKeys"]
    assert decide([rendered["execution-role"]], "secretsmanager:GetSecretValue", full, {}) is Decision.ALLOW
    granted = read["Resource"] if isinstance(read["Resource"], list) else [read["Resource"]]
    assert any(fnmatch.fnmatchcase(full, r) for r in granted)
    template = (tmp_path / "aws/template.yaml").read_text()
    assert f'"{partial}-??????"' in template  # the SAM template grants the same


def test_a_function_name_too_long_for_its_role_is_refused_never_cut() -> None:
    """Finding 8: the role name was cut to 64 characters, so a 60-character X and X-nfl had one role."""
    from nfldeploy.cloud.lambda_deployer import execution_role_name

    name = "f" * 60
    with pytest.raises(ConfigError, match="at most 64 characters"):
        execution_role_name(name)
    assert execution_role_name("f" * 54) == "f" * 54 + "-nfldeploy"
