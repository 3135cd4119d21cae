"""After 50 deploys (issue 31 item 5): moto's stand-in pages Lambda's lists as AWS does (at most 50 items a
response), promote and status read every page after 60 versions, and version retention keeps the serving,
the previous (rollback target), any an alias uses and the newest ``lambda_keep_versions``, deleting the rest
after a promote or a deploy without canary. Against moto's server, without Docker."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lambda_state import REGION, aliases, cheap_versions, service, settings_for, versions
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import deployer_policy
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget

ACCOUNT = "123456789012"  # moto's: the rendered policies name the account


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return aws_clients(REGION)


def _deployed(aws: AwsClients, **values: Any) -> tuple[LambdaTarget, DeploySettings, str]:
    settings = settings_for(f"fn-{uuid.uuid4().hex[:6]}", **values)
    target, image = service(aws, settings, keep_versions=settings.lambda_keep_versions)
    target.apply(target.plan(settings, image))
    return target, settings, image


# -- the stand-in --------------------------------------------------------------------------------------------
def test_lambda_lists_answer_at_most_50_items_a_page(aws: AwsClients) -> None:
    """ListVersionsByFunction and ListFunctionUrlConfigs: "a maximum of 50 items in each response, even if you
    set the number higher" (their API reference pages); ListAliases pages at 50 too here. MaxItems lowers
    the page; a marker the server did not hand out is refused."""
    target, _, _ = _deployed(aws)
    name = target.function
    cheap_versions(aws, name, 54)  # 55 versions and $LATEST
    for index in range(52):
        aws.lambda_.create_alias(FunctionName=name, Name=f"a{index}", FunctionVersion="1")
        aws.lambda_.create_function_url_config(FunctionName=name, Qualifier=f"a{index}", AuthType="AWS_IAM")
    for operation, key, total in (
        ("list_versions_by_function", "Versions", 56),
        ("list_aliases", "Aliases", 53),
        ("list_function_url_configs", "FunctionUrlConfigs", 53),
    ):
        call = getattr(aws.lambda_, operation)
        first = call(FunctionName=name, MaxItems=1000 if operation != "list_function_url_configs" else 50)
        assert len(first[key]) == 50 and first["NextMarker"], operation
        rest = call(FunctionName=name, Marker=first["NextMarker"])
        assert len(rest[key]) == total - 50 and "NextMarker" not in rest, operation
        assert len(call(FunctionName=name, MaxItems=7)[key]) == 7
        pages = list(aws.lambda_.get_paginator(operation).paginate(FunctionName=name))
        assert sum(len(page[key]) for page in pages) == total and len(pages) == 2, operation
        with pytest.raises(ClientError, match="InvalidParameterValue"):
            call(FunctionName=name, Marker="not-a-marker")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        aws.lambda_.list_function_url_configs(FunctionName="no-such-function")


def test_a_version_an_alias_uses_cannot_be_deleted_and_numbers_are_never_reused(aws: AwsClients) -> None:
    target, _, _ = _deployed(aws)
    name = target.function
    cheap_versions(aws, name, 3)  # versions 1-4, live on 1
    aws.lambda_.update_alias(
        FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    for version, alias in (("1", "live"), ("2", "live")):  # its own version, and one it routes a weight to
        with pytest.raises(ClientError, match=rf"ResourceConflictException.*\[{alias}\]"):
            aws.lambda_.delete_function(FunctionName=name, Qualifier=version)
    aws.lambda_.delete_function(FunctionName=name, Qualifier="4")
    cheap_versions(aws, name, 1)
    assert versions(aws, name) == [1, 2, 3, 5]  # a new number, never the deleted 4 again


# -- promote and status after 60 versions --------------------------------------------------------------------
def test_promote_and_status_after_60_versions(aws: AwsClients) -> None:
    """The workflow's canary, smoke test, promote, then the same workflow run again unchanged: the re-run's
    promote finds nothing to do. Reading one page of versions, it found "no canary to promote" (the newest
    it saw was 50) and the workflow's rollback step moved live back a version."""
    target, settings, image = _deployed(aws, lambda_keep_versions=100)
    name = target.function
    cheap_versions(aws, name, 58)  # versions 1-59, live on 1
    canary = settings.model_copy(update={"timeout": 61})
    deployed = target.apply(target.plan(canary, image, canary=10))
    assert deployed.traffic == {f"{name}:1": 90, f"{name}:60": 10}

    status = target.status()
    assert len(status.revisions) == 60 and status.revisions[-1].name == f"{name}:60"
    assert status.canary_url  # the canary alias's URL, for smoke-test --canary

    promote = target.plan_promote()
    assert [a.kind for a in promote.actions] == ["alias", "end_canary"]
    assert target.apply(promote).traffic == {f"{name}:60": 100}

    again = target.plan_promote()  # the re-run: nothing to promote, and no error
    assert again.empty
    assert target.apply(again).traffic == {f"{name}:60": 100}
    assert target.plan(canary, image, canary=10).empty  # the re-run's deploy: nothing changed either
    status = target.status()
    assert status.serving == f"{name}:60" and {r.name for r in status.revisions} >= {f"{name}:60"}


# -- retention -----------------------------------------------------------------------------------------------
def test_retention_keeps_serving_previous_aliased_and_the_newest_n(aws: AwsClients) -> None:
    target, settings, image = _deployed(aws, lambda_keep_versions=3)
    name = target.function
    aws.lambda_.create_alias(FunctionName=name, Name="pinned", FunctionVersion="1")  # a user's own alias
    timeout = 60
    for _ in range(7):  # versions 2-8, each deployed without canary
        timeout += 1
        plan = target.plan(settings.model_copy(update={"timeout": timeout}), image)
        target.apply(plan)
    # serving 8, previous 7, newest 3 (6-8), and 1 (pinned): the others went, step by step
    assert versions(aws, name) == [1, 6, 7, 8]
    timeout += 1
    plan = target.plan(settings.model_copy(update={"timeout": timeout}), image)
    (retire,) = [a for a in plan.actions if a.kind == "retire_versions"]
    assert retire.detail.startswith("delete versions 6:") and "lambda_keep_versions" in retire.detail
    assert plan.spec.retire == ("6",)

    # a canary keeps everything until it ends; the promote then retires
    target.apply(target.plan(settings.model_copy(update={"timeout": timeout}), image, canary=25))
    assert versions(aws, name) == [1, 6, 7, 8, 9]  # the canary (9) and the serving (8) and all the rest
    promote = target.plan_promote()
    assert [a.kind for a in promote.actions] == ["alias", "end_canary", "retire_versions"]
    target.apply(promote)
    assert versions(aws, name) == [1, 7, 8, 9]  # serving 9, previous 8, newest 3 (7-9), pinned 1
    assert target.rollback().traffic == {f"{name}:8": 100}  # the rollback target was kept
    assert set(aliases(aws, name)) == {"live", "pinned"}


def test_the_deployer_role_retires_versions_but_cannot_delete_the_function(
    aws: AwsClients, aws_env: str
) -> None:
    """lambda:DeleteFunction is granted on the function's qualified ARNs only (RetireVersions): an identity
    holding exactly the rendered deployer policy retires old versions, and is refused deleting the whole
    function (an unqualified DeleteFunction deletes every version and alias)."""
    admin = aws
    settings = settings_for(f"fn-{uuid.uuid4().hex[:6]}", lambda_keep_versions=1)
    target, image = service(admin, settings)
    policy = deployer_policy(REGION, settings.service_name, settings.repository, False, account=ACCOUNT)
    iam = boto3.client("iam", region_name=REGION)
    user = f"deployer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="deployer", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    deployer = AwsClients(
        *(session.client(service_name, endpoint_url=aws_env) for service_name in ("lambda", "ecr", "iam")),
        logs=session.client("logs", endpoint_url=aws_env),
    )
    name = settings.service_name
    with iam_enforced():
        target = LambdaTarget(
            deployer, name, REGION, keep_versions=1, waiter_config={"Delay": 0, "MaxAttempts": 5}
        )
        for timeout in (61, 62, 63, 64):
            target.apply(target.plan(settings.model_copy(update={"timeout": timeout}), image))
        target.apply(target.plan(settings.model_copy(update={"timeout": 65}), image, canary=10))
        target.apply(target.plan_promote())
        with pytest.raises(ClientError, match="AccessDenied"):
            deployer.lambda_.delete_function(FunctionName=name)
    assert versions(admin, name) == [4, 5]  # serving 5, previous 4; 1-3 retired by the deployer
    assert admin.lambda_.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
