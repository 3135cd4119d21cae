"""The rendered workflow's header tells a Lambda user what to set up before the first release: bootstrap once
as the account's admin, and a deploy role whose trust admits exactly the token GitHub gives the release job
(its ``sub`` names the job's environment: a trust written for another sub refuses every release)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from manifests import sample_manifest
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from workflow_repo import documented_subject
from workflow_runner import LocalRunner

REPOSITORY = "octo-org/nfl-training"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("render")
    inputs = views.Inputs(
        DeploySettings(),
        sample_manifest(),
        "registry.example/nfl:1",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:1",
    )
    render_all(inputs, out, ["github"])
    return (out / "github" / "workflows" / "nfldeploy.yml").read_text()


def test_the_documented_trust_admits_the_release_jobs_token(workflow: str, tmp_path: Path) -> None:
    release = yaml.safe_load(workflow)["jobs"]["release"]
    runner = LocalRunner(tmp_path, tmp_path, tmp_path, {}, github_repository=REPOSITORY)
    # GitHub's sub for the job that logs in to AWS (it runs in an environment), and the header's
    assert documented_subject(workflow, REPOSITORY) == runner.subject(release["environment"])
    assert runner.subject(release["environment"]).startswith(f"repo:{REPOSITORY}:environment:")
    assert [s["name"] for s in release["steps"] if "configure-aws-credentials" in s.get("uses", "")] == [
        "Authenticate to AWS (OIDC)"
    ]


def test_the_header_names_bootstrap_and_the_deployer_policy(workflow: str) -> None:
    header = " ".join(line.lstrip("# ") for line in workflow.splitlines() if line.startswith("#"))
    assert "nfldeploy bootstrap --target lambda" in header
    assert "aws/deployer-policy.json" in header and "AWS_DEPLOY_ROLE_ARN" in header
