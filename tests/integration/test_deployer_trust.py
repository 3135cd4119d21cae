"""The deploy role's rendered trust (aws/deployer-trust-policy.json), decided by moto's STS with the IAM
evaluator (tests/sts_web_identity.py): the rendered workflow's release job of the named repository gets a
session; another repository, a branch's job of the same repository (no environment), another audience, or any
repository while github_repository is unset gets none."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from test_sts_web_identity import REGION, _assume, github_provider  # noqa: F401 (a fixture)

from manifests import sample_manifest
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings

pytestmark = pytest.mark.docker  # moto's server
ACCOUNT = "123456789012"  # moto's
REPOSITORY = "nfl-team/nfl-training"


def _render(tmp_path: Path, **settings: Any) -> Path:
    out = tmp_path / "render"
    inputs = views.Inputs(
        DeploySettings(
            aws_account_id=ACCOUNT, registry="us-docker.pkg.dev/proj/nfl", project="proj", **settings
        ),
        sample_manifest(),
        "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx",
        f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )
    render_all(inputs, out, ["lambda", "github"])
    return out


def _role(aws_env: str, trust: dict[str, Any]) -> str:
    iam = boto3.client("iam", endpoint_url=aws_env, region_name=REGION)
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


@pytest.mark.usefixtures("github_provider")
def test_the_release_job_of_the_repository_and_nothing_else_assumes_the_rendered_role(
    aws_env: str,
    tmp_path: Path,
) -> None:
    out = _render(tmp_path, github_repository=REPOSITORY)
    trust = json.loads((out / "aws/deployer-trust-policy.json").read_text())
    workflow = yaml.safe_load((out / "github/workflows/nfldeploy.yml").read_text())
    environment = workflow["jobs"]["release"]["environment"]
    role = _role(aws_env, trust)
    from moto_extensions import iam_enforced

    with iam_enforced():
        said, env = _assume(aws_env, role, tmp_path, subject=f"repo:{REPOSITORY}:environment:{environment}")
        assert said.startswith("success") and env["AWS_SESSION_TOKEN"], said
        for subject in (
            f"repo:someone-else/nfl-training:environment:{environment}",  # another repository
            f"repo:{REPOSITORY}:ref:refs/heads/main",  # a job without the environment (any branch's push)
            f"repo:{REPOSITORY}:environment:staging",  # another environment
            f"repo:{REPOSITORY}:pull_request",  # a pull request's job
        ):
            said, env = _assume(aws_env, role, tmp_path, subject=subject)
            assert said.startswith("failure") and "AccessDenied" in said and not env, subject
        said, env = _assume(
            aws_env,
            role,
            tmp_path,
            subject=f"repo:{REPOSITORY}:environment:{environment}",
            audience="https://example.com",
        )
        assert said.startswith("failure") and not env


@pytest.mark.usefixtures("github_provider")
def test_without_github_repository_the_rendered_trust_admits_no_repository(
    aws_env: str,
    tmp_path: Path,
) -> None:
    out = _render(tmp_path)
    trust = json.loads((out / "aws/deployer-trust-policy.json").read_text())
    role = _role(aws_env, trust)
    from moto_extensions import iam_enforced

    with iam_enforced():
        for subject in (f"repo:{REPOSITORY}:environment:production", "repo:YOUR_ORG/YOUR_REPO:ref:x"):
            said, env = _assume(aws_env, role, tmp_path, subject=subject)
            assert said.startswith("failure") and not env, subject
