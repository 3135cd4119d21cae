"""moto's STS decides web identities as AWS does (tests/sts_web_identity.py): the unsigned
AssumeRoleWithWebIdentity of a GitHub Actions job gets a session only from a role whose trust policy names
the account's OIDC provider and whose conditions hold for the token's aud and sub; the session then acts with
the role's policies under IAM enforcement."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from moto_extensions import iam_enforced
from workflow_runner import LocalRunner

REGION = "us-east-1"
HOST = "token.actions.githubusercontent.com"
SUBJECT = "repo:nfl-team/nfl-training:environment:production"


def _trust(account: str, subject: str = SUBJECT) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{HOST}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {f"{HOST}:aud": "sts.amazonaws.com"},
                    "StringLike": {f"{HOST}:sub": subject},
                },
            }
        ],
    }


def _assume(
    moto_server: str, role: str, tmp_path: Path, subject: str = SUBJECT, audience: str = "sts.amazonaws.com"
) -> tuple[str, dict[str, str]]:
    runner = LocalRunner(tmp_path, tmp_path, tmp_path, {}, aws_env={"AWS_ENDPOINT_URL": moto_server})
    runner.oidc_subject = subject
    env: dict[str, str] = {}
    outcome, output = runner._assume_role(
        {"role-to-assume": role, "aws-region": REGION, "audience": audience}, env
    )
    return f"{outcome}: {output}", env


@pytest.fixture
def github_provider(aws_env: str) -> str:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    arn = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
    try:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except ClientError:
        iam.create_open_id_connect_provider(
            Url=f"https://{HOST}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
        )
    return arn


def _role(aws_env: str, subject: str = SUBJECT) -> str:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    arn = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(_trust("123456789012", subject))
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="list",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}],
            }
        ),
    )
    return str(arn)


def test_the_jobs_token_assumes_the_role_and_acts_with_its_policies(
    aws_env: str, github_provider: str, tmp_path: Path
) -> None:
    role = _role(aws_env)
    with iam_enforced():
        said, env = _assume(aws_env, role, tmp_path)
        assert said.startswith("success"), said
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )
        session.client("lambda", endpoint_url=aws_env).list_functions()  # the role's policy allows it
        with pytest.raises(ClientError, match="not authorized"):
            session.client("lambda", endpoint_url=aws_env).list_aliases(FunctionName="x")


@pytest.mark.parametrize(
    ("change", "refused"),
    [
        ({"subject": "repo:someone-else/fork:ref:refs/heads/main"}, "AccessDenied"),
        ({"audience": "https://example.com"}, "Incorrect token audience"),
    ],
)
def test_another_repository_or_audience_is_refused(
    aws_env: str, github_provider: str, tmp_path: Path, change: dict[str, str], refused: str
) -> None:
    role = _role(aws_env)
    with iam_enforced():
        said, env = _assume(aws_env, role, tmp_path, **change)
    assert said.startswith("failure") and refused in said and "AWS_ACCESS_KEY_ID" not in env


def test_without_the_accounts_oidc_provider_no_token_is_taken(aws_env: str, tmp_path: Path) -> None:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    said, _ = _assume(aws_env, _role(aws_env), tmp_path)
    assert said.startswith("failure") and "no OpenIDConnect provider" in said
