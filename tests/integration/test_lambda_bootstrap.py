"""``nfldeploy bootstrap --target lambda`` against moto's server (IAM, ECR, CloudWatch Logs, API Gateway,
Secrets Manager), without Docker: what it makes, that a second run plans nothing, that a partial secret ARN
is completed, and that deploy without it changes nothing and says to run it."""

from __future__ import annotations

import fnmatch
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from ecr_local import recorded_image
from nfldeploy.cli.app import app
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import execution_role_policy
from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget
from nfldeploy.targets.lambda_bootstrap import LEGACY_INLINE, LEGACY_MANAGED, LambdaBootstrap

runner = CliRunner()
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients(REGION)


def _name() -> str:
    return f"fn-{uuid.uuid4().hex[:6]}"


def _settings(name: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=name, repository=f"nfl/{name}", **values)


def _boot(aws: AwsClients, name: str) -> LambdaBootstrap:
    return LambdaBootstrap(aws, name, REGION, sleep=lambda _: None)


def _kinds(plan: Any) -> list[str]:
    return [action.kind for action in plan.actions]


def test_bootstrap_makes_the_role_repository_and_log_group_and_a_second_run_plans_nothing(
    aws: AwsClients,
) -> None:
    name = _name()
    settings = _settings(name)
    boot = _boot(aws, name)
    plan = boot.plan(settings)
    assert _kinds(plan) == [
        "create_role",
        "role_policy",
        "create_repository",
        "repository_policy",
        "create_log_group",
    ]
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=f"{name}-nfldeploy")  # planning changed nothing
    done = boot.apply(plan)
    assert done.changed and done.role_arn.endswith(f":role/{name}-nfldeploy")

    role = aws.iam.get_role(RoleName=f"{name}-nfldeploy")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert aws.iam.list_attached_role_policies(RoleName=f"{name}-nfldeploy")["AttachedPolicies"] == []
    inline = aws.iam.get_role_policy(RoleName=f"{name}-nfldeploy", PolicyName="nfldeploy-execution")
    rendered = execution_role_policy(REGION, name, None, account=ACCOUNT)  # what render shows
    assert inline["PolicyDocument"] == rendered
    (logs,) = inline["PolicyDocument"]["Statement"]
    assert logs["Resource"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{name}:*"  # own group

    repository = aws.ecr.describe_repositories(repositoryNames=[f"nfl/{name}"])["repositories"][0]
    assert repository["imageScanningConfiguration"]["scanOnPush"] is True
    (pull,) = json.loads(aws.ecr.get_repository_policy(repositoryName=f"nfl/{name}")["policyText"])[
        "Statement"
    ]
    assert pull["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(pull["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    function_arn = done.role_arn.replace(":iam::", f":lambda:{REGION}:").split(":role/")[0]
    assert pull["Condition"]["ArnLike"]["aws:SourceArn"] == [
        f"{function_arn}:function:{name}",
        f"{function_arn}:function:{name}:*",
    ]
    (group,) = aws.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert group["retentionInDays"] == 30

    again = boot.plan(settings)
    assert again.empty, again.as_dict()
    assert not boot.apply(again).changed
    longer = boot.plan(settings.model_copy(update={"log_retention_days": 90}))
    assert _kinds(longer) == ["log_retention"]
    boot.apply(longer)
    (group,) = aws.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"]
    assert group["retentionInDays"] == 90


def test_the_user_keeps_their_repository_statements(aws: AwsClients) -> None:
    name = _name()
    aws.ecr.create_repository(repositoryName=f"nfl/{name}")
    theirs = {
        "Sid": "TheirCi",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": ["ecr:BatchGetImage"],
    }
    aws.ecr.set_repository_policy(
        repositoryName=f"nfl/{name}", policyText=json.dumps({"Version": "2012-10-17", "Statement": [theirs]})
    )
    boot = _boot(aws, name)
    plan = boot.plan(_settings(name))
    assert "scan_on_push" in _kinds(plan) and "create_repository" not in _kinds(plan)
    boot.apply(plan)
    policy = json.loads(aws.ecr.get_repository_policy(repositoryName=f"nfl/{name}")["policyText"])
    assert [s["Sid"] for s in policy["Statement"]] == ["TheirCi", "NfldeployLambdaPull"]
    assert boot.plan(_settings(name)).empty


def test_a_role_an_older_nfldeploy_made_is_narrowed(aws: AwsClients) -> None:
    """The managed logs policy (every log group) is detached, the old inline secret grant replaced."""
    name = _name()
    role = f"{name}-nfldeploy"
    aws.iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    aws.iam.attach_role_policy(RoleName=role, PolicyArn=LEGACY_MANAGED.format(partition="aws"))
    old = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    aws.iam.put_role_policy(RoleName=role, PolicyName=LEGACY_INLINE, PolicyDocument=json.dumps(old))
    boot = _boot(aws, name)
    plan = boot.plan(_settings(name))
    assert _kinds(plan)[:4] == ["role_trust", "role_policy", "detach_policy", "delete_role_policy"]
    boot.apply(plan)
    assert aws.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert aws.iam.list_role_policies(RoleName=role)["PolicyNames"] == ["nfldeploy-execution"]
    principal = aws.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"][0][
        "Principal"
    ]
    assert principal == {"Service": "lambda.amazonaws.com"}
    assert boot.plan(_settings(name)).empty


def test_a_partial_secret_arn_is_completed_and_the_role_grants_the_full_arn(aws: AwsClients) -> None:
    """GetSecretValue takes a partial ARN, an IAM Resource does not match one
    (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html):
    bootstrap completes it with DescribeSecret, deploy gives the function the ARN the role may read."""
    name = _name()
    secrets = boto3.client("secretsmanager", region_name=REGION)
    full = secrets.create_secret(Name=f"{name}-keys", SecretString="k1,k2")["ARN"]
    partial = full.rsplit("-", 1)[0]
    assert partial.endswith(f":secret:{name}-keys")
    # IAM's wildcard semantics ("?" one character): the partial ARN names no secret, name-?????? this one
    assert not fnmatch.fnmatchcase(full, partial) and fnmatch.fnmatchcase(full, f"{partial}-??????")
    settings = _settings(name, auth=True, api_keys_secret=partial, function_url_auth="NONE")
    boot = _boot(aws, name)
    plan = boot.plan(settings)
    (grant,) = [a for a in plan.actions if a.kind == "role_policy"]
    assert full in grant.detail and f"completed from {partial}" in grant.detail
    boot.apply(plan)
    statements = aws.iam.get_role_policy(RoleName=f"{name}-nfldeploy", PolicyName="nfldeploy-execution")[
        "PolicyDocument"
    ]["Statement"]
    (read,) = [s for s in statements if s["Sid"] == "ReadApiKeys"]
    assert read == {
        "Sid": "ReadApiKeys",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": full,
    }
    assert boot.plan(settings).empty
    assert boot.plan(settings.model_copy(update={"api_keys_secret": full})).empty  # the same secret

    target = LambdaTarget(aws, name, REGION, local_image_id=lambda _image: None)
    image = recorded_image(aws.ecr, f"nfl/{name}")
    for given in (partial, full):
        deploy = target.plan(settings.model_copy(update={"api_keys_secret": given}), image)
        assert deploy.spec.env["NFLSERVE_API_KEYS_SECRET_ARN"] == full  # type: ignore[attr-defined]
    other = secrets.create_secret(Name=f"{name}-other", SecretString="x")["ARN"]
    with pytest.raises(ConfigError, match="may not read the API keys secret") as refused:
        target.plan(settings.model_copy(update={"api_keys_secret": other}), image)
    assert "nfldeploy bootstrap --target lambda" in (refused.value.hint or "")


def test_a_secret_that_does_not_exist_is_refused_naming_the_form_to_use(aws: AwsClients) -> None:
    name = _name()
    missing = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:{name}-nothing"
    boot = _boot(aws, name)
    with pytest.raises(ConfigError, match="does not exist; nothing was changed") as refused:
        boot.plan(_settings(name, auth=True, api_keys_secret=missing, function_url_auth="NONE"))
    assert ":secret:NAME-AbCdEf" in (refused.value.hint or "")
    with pytest.raises(ConfigError, match="Secrets Manager secret ARN") as not_arn:
        boot.plan(_settings(name, auth=True, api_keys_secret="nfl-keys", function_url_auth="NONE"))
    assert "NAME-AbCdEf" in (not_arn.value.hint or "")
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=f"{name}-nfldeploy")


def test_bootstrap_makes_the_http_api_tagged_for_the_deployer(aws: AwsClients) -> None:
    name = _name()
    settings = _settings(name, lambda_endpoint="api_gateway", allow_unauthenticated=True, rate_limit_rps=7)
    boot = _boot(aws, name)
    plan = boot.plan(settings)
    assert _kinds(plan)[-1] == "create_http_api" and "7 rps" in plan.actions[-1].detail
    done = boot.apply(plan)
    api = aws.apigateway.get_api(ApiId=done.api_id)
    assert api["Tags"] == {"nfldeploy-service": name} and api["ProtocolType"] == "HTTP"
    stage = aws.apigateway.get_stage(ApiId=done.api_id, StageName="$default")
    assert stage["Tags"] == {"nfldeploy-service": name}  # the deployer's stage statement is conditioned on it
    assert stage["AutoDeploy"] is True and stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 7
    (integration,) = aws.apigateway.get_integrations(ApiId=done.api_id)["Items"]
    assert integration["IntegrationUri"].endswith(f":function:{name}:live")
    assert integration["PayloadFormatVersion"] == "2.0"
    (route,) = aws.apigateway.get_routes(ApiId=done.api_id)["Items"]
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert boot.plan(settings).empty
    assert boot.apply(boot.plan(settings)).api_id == done.api_id


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def test_deploy_without_a_bootstrap_says_to_run_it_and_changes_nothing(
    aws: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name = _name()
    monkeypatch.setenv("NFLDEPLOY_SERVICE_NAME", name)
    monkeypatch.setenv("NFLDEPLOY_REPOSITORY", f"nfl/{name}")
    image = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/nfl/{name}@sha256:{'ab' * 32}"
    for dry in (["--dry-run"], []):
        result = _cli("deploy", "--target", "lambda", "--image", image, *dry)
        assert result.exit_code == 1, result.output
        assert f"the ECR repository nfl/{name} of {name} is missing" in result.stderr
        assert "nfldeploy bootstrap --target lambda" in result.stderr and "Traceback" not in result.output
    # the repository alone (made by hand): the role is missing, still nothing changes
    image = recorded_image(aws.ecr, f"nfl/{name}")
    result = _cli("deploy", "--target", "lambda", "--image", image)
    assert result.exit_code == 1 and f"the execution role {name}-nfldeploy is missing" in result.stderr
    with pytest.raises(aws.lambda_.exceptions.ResourceNotFoundException):
        aws.lambda_.get_function(FunctionName=name)
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=f"{name}-nfldeploy")
    assert aws.logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{name}")["logGroups"] == []


def test_the_bootstrap_command(aws: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    name = _name()
    common = [
        "bootstrap",
        "--target",
        "lambda",
        "--set",
        f"service_name={name}",
        "--set",
        f"repository=nfl/{name}",
    ]
    dry = _cli(*common, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["plan"]["actions"][0]["kind"] == "create_role"
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=f"{name}-nfldeploy")
    table = _cli(*common, "--dry-run")
    assert table.exit_code == 0 and "create_repository" in table.stdout and f"plan for {name}" in table.stdout
    done = _cli(*common)
    assert done.exit_code == 0, done.output
    assert f"bootstrapped {name}: role arn:aws:iam::" in done.stdout
    again = _cli(*common, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["plan"]["actions"] == []
    assert "already bootstrapped" in _cli(*common).stdout

    bad = _cli(*common, "--set", "log_retention_days=10")
    assert bad.exit_code == 1 and "log_retention_days must be one of 1, 3, 5, 7, 14, 30" in bad.stderr
    other = _cli("bootstrap", "--target", "cloudrun")
    assert other.exit_code == 2 and "'cloudrun' is not" in other.output
    public = _cli(*common, "--set", "function_url_auth=NONE")  # refused as deploy refuses it
    assert public.exit_code == 1 and "function_url_auth NONE without API keys" in public.stderr
