"""The rendered workflow's Lambda release, run end to end (tests/workflow_runner.py), as a user's repository
runs it (issue 32 item 4). The account was bootstrapped by its admin (``nfldeploy bootstrap --target lambda``)
and serves the example; the repository's variables name the deploy role: its only policy is exactly the
``aws/deployer-policy.json`` that ``nfldeploy render --only lambda`` writes, its trust the GitHub OIDC trust
(the account's provider ``token.actions.githubusercontent.com``, ``aud`` sts.amazonaws.com, ``sub`` the
repository's production environment). Under ``iam_enforced`` moto decides every request with the IAM evaluator;
the release job's OIDC step gets the role's session from moto's STS (tests/sts_web_identity.py), its deploy
pushes to the registry behind moto's ECR (tests/ecr_registry.py), and its canary check and smoke test are
signed with the session's credentials through the canary's AWS_IAM function URL, served by the function URL
front (tests/function_urls.py: SigV4 and both invoke permissions decided, the version run under AWS's Runtime
Interface Emulator)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import docker
import pytest
import yaml
from typer.testing import CliRunner

import ecr_registry
from function_urls import FunctionUrlFront
from iam_identities import without
from lambda_state import cheap_versions
from moto_extensions import iam_enforced
from nfldeploy.cli.app import app
from nfldeploy.cloud.aws import aws_clients
from services import TEST_REPOSITORY, base_image
from workflow_repo import (
    TRAINING_CONFIG,
    documented_subject,
    explain,
    make_venv,
    render,
    runner_env,
    training_repository,
)
from workflow_runner import JobResult, LocalRunner

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REGION = "us-east-1"
ACCOUNT = "123456789012"
HOST = "token.actions.githubusercontent.com"
#: Versions published before the pipeline: with the one serving, more than ListVersionsByFunction's page
#: of 50 (the release job's promote read one page and found "no canary to promote").
SEEDED = 58
REPOSITORY = "nfl-team/nfl-training"  # the user's repository (owner/repo), as the runner's tokens name it


@pytest.fixture(scope="module")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("runner"))


@dataclass(frozen=True)
class Call:
    """One request moto's server (or the function URL front) authorized or refused: who, what."""

    action: str
    caller: str
    allowed: bool


@pytest.fixture
def calls(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every request decided under ``iam_enforced``: the signer's ARN (after moto checked the signature) and
    the action, in order."""
    from moto.iam.access_control import IAMRequestBase

    decide = IAMRequestBase.check_action_permitted
    seen: list[Call] = []

    def recording(self: Any, resource: str) -> None:
        caller, action = str(self._access_key.arn), str(getattr(self, "_action", ""))
        try:
            decide(self, resource)
        except Exception:
            seen.append(Call(action, caller, False))
            raise
        seen.append(Call(action, caller, True))

    monkeypatch.setattr(IAMRequestBase, "check_action_permitted", recording)
    return seen


def _deploy_role(iam: Any, policy: dict[str, Any], trust: dict[str, Any]) -> tuple[str, str]:
    """The role the repository's AWS_DEPLOY_ROLE_ARN names, ``policy`` its only policy, ``trust`` (the rendered
    aws/deployer-trust-policy.json) its trust: (ARN, name)."""
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"
    if arn not in [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]:
        iam.create_open_id_connect_provider(
            Url=f"https://{HOST}", ClientIDList=["sts.amazonaws.com"], ThumbprintList=["a" * 40]
        )
    name = f"nfldeploy-deploy-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="nfldeploy-deployer", PolicyDocument=json.dumps(policy))
    return role, name


def _settings_file(folder: Path, settings: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nfldeploy.toml"
    path.write_text("".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    return path


@dataclass
class Release:
    """Runs the workflow of a repository with the release job's variables."""

    tmp_path: Path
    venv: Path
    moto: str
    front: FunctionUrlFront
    role: str

    def run(
        self, name: str, repo: Path, done: dict[str, JobResult] | None = None
    ) -> tuple[dict[str, JobResult], LocalRunner]:
        workflow = yaml.safe_load((repo / ".github/workflows/nfldeploy.yml").read_text())
        runner = LocalRunner(
            repository=repo,
            venv=self.venv,
            workdir=self.tmp_path / name,
            base_env={k: v for k, v in runner_env().items() if k.lower() != "no_proxy"},
            # what the job's AWS login leaves for its later steps: moto's endpoint, and the proxy and CA
            # through which https://*.lambda-url.<region>.on.aws reaches the front
            aws_env={"AWS_ENDPOINT_URL": self.moto, **self.front.environ()},
            github_repository=REPOSITORY,
            vars={"NFLDEPLOY_TARGET": "lambda", "AWS_DEPLOY_ROLE_ARN": self.role},
        )
        with iam_enforced():
            return runner.run(workflow, done), runner


def _admin(endpoint: str) -> dict[str, Any]:
    session = boto3.Session(region_name=REGION)
    return {name: session.client(name, endpoint_url=endpoint) for name in ("lambda", "iam", "sts")}


def _live(lambda_: Any, function: str) -> tuple[str, dict[str, float]]:
    """``live``'s version and its additional weights."""
    alias = lambda_.get_alias(FunctionName=function, Name="live")
    return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights", {})


def _urls(lambda_: Any, function: str) -> dict[str, str]:
    """qualifier -> AuthType of every function URL of ``function`` (every page)."""
    found = {}
    for page in lambda_.get_paginator("list_function_url_configs").paginate(FunctionName=function):
        for config in page["FunctionUrlConfigs"]:
            found[config["FunctionArn"].rsplit(":", 1)[1]] = config["AuthType"]
    return found


@pytest.fixture
def account(
    aws_env: str,
    ecr_behind_moto: ecr_registry.EcrRegistry,
    docker_client: Any,
    lambda_image: str,
    example_export: Path,
    function_url_front: FunctionUrlFront,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The account before the pipeline: bootstrapped by its admin, serving the example (version 1 of the
    function, deployed by hand before the workflow existed, then ``SEEDED`` versions more); the user's
    settings; the policy ``render --only lambda`` wrote for them."""
    service = f"wfl-{uuid.uuid4().hex[:6]}"
    settings = {
        "service_name": service,
        "repository": f"{TEST_REPOSITORY}wfl-{service}",
        "base_image": base_image(),
        "memory": "1Gi",
        "timeout": 60,
        "smoke_p95_budget_ms": 5000,
        "aws_region": REGION,
        "aws_account_id": ACCOUNT,  # the rendered policy names the account (unset: it grants nothing)
        "github_repository": REPOSITORY,  # the rendered trust names the repository's release job
        "training_config": TRAINING_CONFIG,
    }
    admin_settings = _settings_file(tmp_path / "admin", settings)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    monkeypatch.chdir(tmp_path / "admin")
    for command in (
        ["bootstrap", "--target", "lambda"],
        ["deploy", "--target", "lambda", "--image", lambda_image, "--export-dir", str(example_export)],
    ):
        done = CliRunner().invoke(app, [*command, "--settings", str(admin_settings)])
        assert done.exit_code == 0, done.output
    cheap_versions(aws_clients(REGION), service, SEEDED)  # more than a page (50) of versions before it
    policy_file = render(example_export, admin_settings, tmp_path / "rendered", "lambda")
    policy = json.loads((policy_file / "aws" / "deployer-policy.json").read_text())
    trust = json.loads((policy_file / "aws" / "deployer-trust-policy.json").read_text())
    try:
        yield {"service": service, "settings": settings, "policy": policy, "trust": trust}
    finally:
        function_url_front.retire(service)  # its containers, which hold the images
        _remove_images(docker_client, f"wfl-{service}")


def _remove_images(docker_client: Any, name: str) -> None:
    """Every reference containing ``name``, tags and repository digests (the release job's push to ECR leaves
    a build's image named only by its digest once the next build takes the tag); an image goes with its last
    reference, and one another test still names (the session's Lambda image, pushed by the seed) stays."""
    for image in docker_client.api.images(all=True):
        for reference in (image.get("RepoTags") or []) + (image.get("RepoDigests") or []):
            if name in reference:
                with contextlib.suppress(docker.errors.NotFound):
                    docker_client.api.remove_image(reference)


def test_the_rendered_workflow_releases_a_lambda_canary_with_the_deploy_role_or_keeps_live(
    account: dict[str, Any],
    aws_env: str,
    function_url_front: FunctionUrlFront,
    example_export: Path,
    runner_venv: Path,
    calls: list[Call],
    tmp_path: Path,
) -> None:
    service, settings = account["service"], account["settings"]
    admin = _admin(aws_env)
    # the trust the rendered workflow's header asks for (the runner's token: GitHub's sub for the job)
    repo = training_repository(tmp_path / "retrained", settings, example_export, "retrained")
    workflow = (repo / ".github/workflows/nfldeploy.yml").read_text()
    subject = documented_subject(workflow, REPOSITORY)
    (trusted,) = account["trust"]["Statement"]
    assert trusted["Condition"]["StringEquals"][f"{HOST}:sub"] == subject  # the header and the rendered trust
    role, role_name = _deploy_role(admin["iam"], account["policy"], account["trust"])
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/GitHubActions"
    release = Release(tmp_path, runner_venv, aws_env, function_url_front, role)
    assert _live(admin["lambda"], service) == ("1", {})
    serving, canary = "1", str(SEEDED + 2)  # the seeded versions, then the canary

    # a retrained model: test -> export -> release (build, deploy --canary with its signed check, smoke-test
    # the canary, promote), every AWS call made by the role's session
    before = len(function_url_front.invocations)
    results, runner = release.run("retrained", repo)
    assert [r.conclusion for r in results.values()] == ["success"] * 3, explain(results)
    print({name: job.seconds for name, job in results.items()})  # where a pipeline's time goes (-s)
    job = results["release"]
    assert job.step("Authenticate to AWS (OIDC)").output == f"assumed {role}"
    assert job.step("Roll back").outcome == "skipped"
    assert {c.caller for c in calls} == {session}, {c.caller for c in calls}
    assert not [c for c in calls if not c.allowed]
    made = {c.action for c in calls}
    assert {
        "ecr:GetAuthorizationToken",
        "lambda:UpdateFunctionCode",
        "lambda:PublishVersion",
        "lambda:CreateAlias",
        "lambda:CreateFunctionUrlConfig",
        "lambda:InvokeFunctionUrl",
        "lambda:InvokeFunction",
        "lambda:UpdateAlias",
    } <= made, sorted(made)
    deployed = json.loads((job.workspace / "deploy.json").read_text())["deployment"]
    assert deployed["traffic"] == {f"{service}:{serving}": 90, f"{service}:{canary}": 10}
    # the deploy-time check and the smoke step reached the canary's version through its AWS_IAM URL, signed
    # by the session; nothing was refused there
    checked = function_url_front.invocations[before:]
    canary_urls = {i.url for i in checked if i.qualifier == "canary"}
    assert len(canary_urls) == 1 and {(i.version, i.caller) for i in checked} == {(canary, session)}
    (canary_url,) = canary_urls
    assert not [r for r in function_url_front.refusals if r.url == canary_url]
    reports = runner.workdir / "artifacts" / "nfldeploy-reports"
    assert json.loads((reports / "smoke.json").read_text())["passed"]
    assert 'failures="0"' in (reports / "smoke.xml").read_text()
    # promoted (past the first page of versions): live is the canary's version alone, the canary ended, no
    # URL of any qualifier is public
    assert _live(admin["lambda"], service) == (canary, {})
    assert _urls(admin["lambda"], service) == {"live": "AWS_IAM"}
    serving, canary = canary, str(int(canary) + 1)

    # the retrained model's next change passes the deploy-time check (nfldeploy.toml's budget) but not the
    # workflow's smoke step (the budget rendered into it when the workflow was, stricter): the canary took
    # 10 %, so "Roll back" runs, and live serves the promoted version alone again; the canary's URL is gone.
    # The release job alone re-runs on the first run's artifacts (test and export would repeat the first run's).
    strict = {**settings, "smoke_p95_budget_ms": 0.001}
    repo = training_repository(tmp_path / "strict", strict, example_export, "retrained")
    _settings_file(repo, {**settings, "timeout": 31})  # a new version, checked with the toml's budget
    done = {name: results[name] for name in ("test", "export")}
    calls.clear()
    results, _ = release.run("retrained", repo, done)
    job = results["release"]
    assert job.step("Deploy the canary").outcome == "success", explain(results)
    smoke = job.step("Smoke-test the canary through its own URL")
    assert smoke.outcome == "failure"
    assert job.step("Promote the canary to 100 %").outcome == "skipped"
    assert job.step("Roll back").outcome == "success", explain(results)
    reports = release.tmp_path / "retrained" / "artifacts" / "nfldeploy-reports"
    deployed = json.loads((reports / "deploy.json").read_text())["deployment"]
    assert deployed["traffic"] == {f"{service}:{serving}": 90, f"{service}:{canary}": 10}  # it took traffic
    failed = [
        c["name"] for c in json.loads((reports / "smoke.json").read_text())["checks"] if not c["passed"]
    ]
    assert failed == ["latency"]
    rolled = json.loads((reports / "rollback.json").read_text())
    assert rolled["traffic"] == {f"{service}:{serving}": 100} and rolled["previous"] == f"{service}:{canary}"
    assert {c.caller for c in calls} == {session}
    assert _live(admin["lambda"], service) == (serving, {})
    assert _urls(admin["lambda"], service) == {"live": "AWS_IAM"}  # the canary's URL ended with it

    # a role whose policy lacks lambda:InvokeFunctionUrl (a broken grant): the deploy-time check through the
    # canary's AWS_IAM URL is refused (403), the deploy step fails, the canary got no traffic, nothing after
    # it runs; live is as it was
    broken, _ = _deploy_role(
        admin["iam"], without(account["policy"], "lambda:InvokeFunctionUrl"), account["trust"]
    )
    release.role = broken
    repo = training_repository(tmp_path / "broken", {**settings, "timeout": 32}, example_export, "retrained")
    before = len(function_url_front.refusals)
    results, _ = release.run("retrained", repo, done)
    job = results["release"]
    deploy = job.step("Deploy the canary")
    assert deploy.outcome == "failure" and "403" in deploy.output and "got no traffic" in deploy.output
    assert [job.step(s).outcome for s in ("Smoke-test the canary through its own URL", "Roll back")] == [
        "skipped",
        "skipped",
    ]
    refused = function_url_front.refusals[before:]
    assert refused and all(r.reason.startswith("lambda:InvokeFunctionUrl: AccessDenied") for r in refused)
    assert _live(admin["lambda"], service) == (serving, {})
    assert _urls(admin["lambda"], service) == {"live": "AWS_IAM"}
