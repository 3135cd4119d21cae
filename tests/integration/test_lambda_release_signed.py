"""Issue 31 item 3: the identity holding exactly the deployer policy ``render`` writes runs the whole Lambda
release, canary check included, signed through the canary's AWS_IAM function URL: no stub of the check. The
URLs are served by the function URL front (tests/function_urls.py: SigV4 verified against moto's IAM, both
invoke permissions decided with their conditions, the version run under AWS's Runtime Interface Emulator), and
moto's server enforces IAM on every control-plane call (tests/moto_extensions.py ``iam_enforced``)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from bootstrapped import bootstrap
from ecr_local import ecr_via_local_registry
from function_urls import FunctionUrlFront
from iam_identities import without
from moto_extensions import iam_enforced
from nfldeploy.cli.app import app
from nfldeploy.cli.deploy_cmd import _canary_check
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.cloud.lambda_deployer import deployer_policy as policy_for
from nfldeploy.errors import DeployError
from nfldeploy.settings import DeploySettings
from nfldeploy.smoke.run import smoke_url
from nfldeploy.smoke.sigv4 import SigV4Auth
from nfldeploy.targets.aws_lambda import LambdaTarget
from nfldeploy.targets.select import TargetName

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REGION = "us-east-1"


def _settings(name: str) -> DeploySettings:
    return DeploySettings(service_name=name, repository=f"nfl/{name}", memory="1Gi", timeout=60)


def _admin(endpoint: str) -> AwsClients:
    """The account's admin (the environment's credentials), who runs nfldeploy bootstrap."""
    session = boto3.Session(region_name=REGION)
    return AwsClients(
        *(session.client(service, endpoint_url=endpoint) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=endpoint),
        logs=session.client("logs", endpoint_url=endpoint),
        secrets=session.client("secretsmanager", endpoint_url=endpoint),
    )


ACCOUNT = "123456789012"  # moto's: the rendered policies name the account


def _rendered_policy(settings: DeploySettings) -> dict[str, Any]:
    return policy_for(
        settings.aws_region,
        settings.service_name,
        settings.repository,
        settings.lambda_endpoint == "api_gateway",
        account=ACCOUNT,
        url_auth=settings.function_url_auth,
        auth=settings.auth,
    )


def _deployer(
    endpoint: str, policy: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[AwsClients, str]:
    """A new IAM user whose only permissions are ``policy`` (made before enforcement starts): its clients and
    ARN. Its keys become the environment's, as a CI job's are: the CLI's signer reads the standard chain."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    user = f"deployer-{uuid.uuid4().hex[:6]}"
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.put_user_policy(UserName=user, PolicyName="nfldeploy-deployer", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    clients = AwsClients(
        *(session.client(service, endpoint_url=endpoint) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=endpoint),
        logs=session.client("logs", endpoint_url=endpoint),
    )
    return clients, arn


def test_the_rendered_policy_runs_the_release_with_the_real_signed_canary_check(
    aws_env: str,
    docker_client: Any,
    registry: Any,
    lambda_image: str,
    example_export: Path,
    function_url_front: FunctionUrlFront,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = _settings(name)  # AWS_IAM function URLs, the default
    admin = _admin(aws_env)
    bootstrap(admin, settings)
    deployer, deployer_arn = _deployer(aws_env, _rendered_policy(settings), monkeypatch)
    push = ecr_via_local_registry(docker_client, registry, deployer.ecr, {})
    check = _canary_check(example_export, None, TargetName.lambda_, settings)  # the CLI's, unchanged
    with function_url_front.routing(monkeypatch), iam_enforced():
        target = LambdaTarget(deployer, name, REGION, push=push, verify=check)
        first = target.apply(target.plan(settings, lambda_image))
        assert first.traffic == {f"{name}:1": 100}
        canary = target.apply(
            target.plan(settings.model_copy(update={"timeout": 31}), lambda_image, canary=20)
        )
        assert canary.traffic == {f"{name}:1": 80, f"{name}:2": 20}
        canary_url = target.status().canary_url  # read by the deployer (the admin's keys are not moto's)
        assert canary_url and canary_url != first.url
        checked = [i for i in function_url_front.invocations if i.url == canary_url]
        # every request of the check reached version 2 through the canary's URL, signed as the deployer
        assert len(checked) > 20 and {(i.version, i.caller, i.status < 500) for i in checked} == {
            ("2", deployer_arn, True)
        }
        assert not [r for r in function_url_front.refusals if r.url == canary_url]

        # nfldeploy smoke-test --target lambda --canary: found through the deployer's own status calls, signed
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
        monkeypatch.setenv("NFLDEPLOY_SERVICE_NAME", name)
        monkeypatch.setenv("NFLDEPLOY_REPOSITORY", f"nfl/{name}")
        before = len(function_url_front.invocations)
        smoke = CliRunner().invoke(
            app,
            [
                "smoke-test",
                "--target",
                "lambda",
                "--canary",
                "--export-dir",
                str(example_export),
                "--requests",
                "10",
            ],
            env={"COLUMNS": "200"},
        )
        assert smoke.exit_code == 0, smoke.output
        assert canary_url.rstrip("/") in smoke.output
        by_cli = function_url_front.invocations[before:]
        assert by_cli and {(i.url, i.version, i.caller) for i in by_cli} == {(canary_url, "2", deployer_arn)}

        assert target.apply(target.plan_promote()).traffic == {f"{name}:2": 100}
        assert target.rollback().traffic == {f"{name}:1": 100}


def test_without_invoke_function_the_signed_canary_check_is_refused_and_live_stays(
    aws_env: str,
    docker_client: Any,
    registry: Any,
    lambda_image: str,
    example_export: Path,
    function_url_front: FunctionUrlFront,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rendered policy less lambda:InvokeFunction (the 2025 rule: both permissions, urls-auth.html):
    the canary's check through its AWS_IAM URL is answered 403, the canary gets no traffic, live is as it was."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    settings = _settings(name)
    admin = _admin(aws_env)
    bootstrap(admin, settings)
    deployer, _ = _deployer(
        aws_env, without(_rendered_policy(settings), "lambda:InvokeFunction"), monkeypatch
    )
    push = ecr_via_local_registry(docker_client, registry, deployer.ecr, {})
    auth = SigV4Auth(REGION)  # the deployer's credentials, from the environment

    def check(url: str) -> None:  # the CLI's check, with a short wait for /ready (a 403 never turns 200 here)
        smoke_url(url, example_export, requests=5, ready_timeout=3, auth=auth).raise_for_failures()

    with function_url_front.routing(monkeypatch), iam_enforced():
        target = LambdaTarget(deployer, name, REGION, push=push, verify=check)
        target.apply(target.plan(settings, lambda_image))
        with pytest.raises(DeployError, match=r"canary .*:2 failed its check .* got no traffic") as failed:
            target.apply(target.plan(settings.model_copy(update={"timeout": 31}), lambda_image, canary=20))
        assert "403" in str(failed.value)
        assert target.status().traffic == {f"{name}:1": 100}
    live = admin.lambda_.get_alias(FunctionName=name, Name="live")
    assert live["FunctionVersion"] == "1" and not (live.get("RoutingConfig") or {}).get(
        "AdditionalVersionWeights"
    )
    # the canary ended with its check (alias and URL deleted): its URL is the one the error names
    checked_at = re.search(r"failed its check at (https://\S+) and", str(failed.value))
    assert checked_at is not None
    canary_url = checked_at[1]
    refused = [r for r in function_url_front.refusals if r.url == canary_url]
    assert refused and all(r.reason.startswith("lambda:InvokeFunction: AccessDenied") for r in refused)
    assert not [i for i in function_url_front.invocations if i.url == canary_url]
