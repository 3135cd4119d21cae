"""Bootstrap checks and repairs what it finds instead of trusting a tag or a name (review findings 1, 3, 5), and
deploy keeps to what bootstrap recorded, against moto's server (IAM, ECR, Logs, API Gateway, STS), without
Docker: an HTTP API an older nfldeploy made (its stage untagged), a run that stopped part-way, an impostor
API carrying the service's tag, policies on the execution role nfldeploy did not write, a repository
statement letting any function pull, and the switch from api_gateway back to function_url."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from bootstrapped import bootstrap, with_sts
from ecr_local import recorded_image
from lambda_state import REGION, settings_for
from moto_extensions import iam_enforced
from nfldeploy.cloud.aws import AwsClients, aws_clients
from nfldeploy.cloud.lambda_deployer import API_TAG, deployer_policy
from nfldeploy.errors import ConfigError, DeployError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget
from nfldeploy.targets.lambda_bootstrap import PULL_SID, LambdaBootstrap
from nfldeploy.targets.lambda_http_api import RECORD_TAG

ACCOUNT = "123456789012"  # moto's


@pytest.fixture
def aws(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env)
    return with_sts(aws_clients(REGION))


def _name() -> str:
    return f"fn-{uuid.uuid4().hex[:6]}"


def _fronted(name: str, **values: Any) -> DeploySettings:
    return settings_for(name, lambda_endpoint="api_gateway", allow_unauthenticated=True, **values)


def _boot(aws: AwsClients, name: str) -> LambdaBootstrap:
    return LambdaBootstrap(aws, name, REGION, sleep=lambda _: None)


def _kinds(plan: Any) -> list[str]:
    return [action.kind for action in plan.actions]


def _live(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}:live"


def _clients(session: boto3.Session, aws_env: str) -> AwsClients:
    return AwsClients(
        *(session.client(service, endpoint_url=aws_env) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=aws_env),
        logs=session.client("logs", endpoint_url=aws_env),
        secrets=session.client("secretsmanager", endpoint_url=aws_env),
        sts=session.client("sts", endpoint_url=aws_env),
    )


def _user(aws: AwsClients, aws_env: str, *policies: dict[str, Any]) -> AwsClients:
    """Clients of a new IAM user holding exactly ``policies`` (made before enforcement starts)."""
    user = f"u-{uuid.uuid4().hex[:6]}"
    aws.iam.create_user(UserName=user)
    for index, policy in enumerate(policies):
        aws.iam.put_user_policy(UserName=user, PolicyName=f"p{index}", PolicyDocument=json.dumps(policy))
    key = aws.iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=REGION
    )
    return _clients(session, aws_env)


def _deployer_target(aws: AwsClients, aws_env: str, settings: DeploySettings) -> LambdaTarget:
    """The target as the identity holding exactly the rendered deployer policy of ``settings`` drives it."""
    policy = deployer_policy(
        REGION,
        settings.service_name,
        settings.repository,
        settings.lambda_endpoint == "api_gateway",
        account=ACCOUNT,
        url_auth=settings.function_url_auth,
        auth=settings.auth,
    )
    deployer = _user(aws, aws_env, policy)
    return LambdaTarget(
        deployer,
        settings.service_name,
        REGION,
        endpoint=settings.lambda_endpoint,
        waiter_config={"Delay": 0, "MaxAttempts": 5},
    )


def _older_api(aws: AwsClients, name: str, stage: bool = True) -> str:
    """The HTTP API as nfldeploy before bootstrap made it: the API tagged, a Lambda proxy on alias live that
    invoked through a resource-policy grant (no role), the $default route, and a $default stage without tags."""
    gateway = aws.apigateway
    api = str(gateway.create_api(Name=name, ProtocolType="HTTP", Tags={API_TAG: name})["ApiId"])
    integration = gateway.create_integration(
        ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=_live(name), PayloadFormatVersion="2.0"
    )
    gateway.create_route(
        ApiId=api, RouteKey="$default", Target=f"integrations/{integration['IntegrationId']}"
    )
    if stage:
        gateway.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    return api


def test_an_api_an_older_nfldeploy_made_is_repaired_and_the_narrow_deployer_deploys_behind_it(
    aws: AwsClients, aws_env: str
) -> None:
    """Finding 1 (upgrade): the untagged stage gets its own tag (the deployer's stage statement needs it),
    the integration invokes as bootstrap's role, the API is recorded on the execution role; then the
    identity holding exactly the rendered policy deploys (it read the stage: AccessDenied before)."""
    name = _name()
    settings = _fronted(name)
    api = _older_api(aws, name)
    boot = _boot(aws, name)
    plan = boot.plan(settings)
    kinds = _kinds(plan)
    assert "create_http_api" not in kinds
    assert {"adopt_http_api", "api_integration", "api_stage_tag"} <= set(kinds)
    assert boot.apply(plan).api_id == api
    assert aws.apigateway.get_stage(ApiId=api, StageName="$default")["Tags"] == {API_TAG: name}
    (integration,) = aws.apigateway.get_integrations(ApiId=api)["Items"]
    assert integration["CredentialsArn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}-nfldeploy-api"
    tags = aws.iam.list_role_tags(RoleName=f"{name}-nfldeploy")["Tags"]
    assert {"Key": RECORD_TAG, "Value": api} in tags
    assert boot.plan(settings).empty

    image = recorded_image(aws.ecr, settings.repository)
    target = _deployer_target(aws, aws_env, settings)
    with iam_enforced():
        done = target.apply(target.plan(settings, image))
    assert done.url == aws.apigateway.get_api(ApiId=api)["ApiEndpoint"]


def test_a_run_that_stopped_part_way_says_what_it_made_and_the_next_run_finishes(
    aws: AwsClients, aws_env: str
) -> None:
    """Finding 1 (half-finished): an admin who may not create stages stops after the API, its record,
    integration and route, saying so and to run again; the next run (not "already bootstrapped") makes the
    stage, and the one after plans nothing."""
    name = _name()
    settings = _fronted(name)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    no_stages = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "apigateway:POST",
                "Resource": f"arn:aws:apigateway:{REGION}::/apis/*/stages",
            }
        ],
    }
    limited = _user(aws, aws_env, everything, no_stages)
    with iam_enforced():
        first = _boot(limited, name)
        with pytest.raises(DeployError) as stopped:
            first.apply(first.plan(settings))
    message = str(stopped.value)
    assert "creating the $default stage" in message and "stopped part-way, after making" in message
    assert f"role {name}-nfldeploy" in message and "HTTP API" in message
    assert "bootstrap --target lambda again" in (stopped.value.hint or "")
    pages = aws.apigateway.get_paginator("get_apis").paginate()  # the stand-in pages, as AWS does
    (api,) = [a for page in pages for a in page["Items"] if a.get("Tags", {}).get(API_TAG) == name]
    assert aws.apigateway.get_stages(ApiId=api["ApiId"])["Items"] == []

    boot = _boot(aws, name)
    again = boot.plan(settings)
    assert _kinds(again) == ["api_stage"]
    assert boot.apply(again).api_id == api["ApiId"]
    assert aws.apigateway.get_stage(ApiId=api["ApiId"], StageName="$default")["Tags"] == {API_TAG: name}
    assert boot.plan(settings).empty


def test_an_impostor_api_carrying_the_tag_is_refused_and_never_used(aws: AwsClients) -> None:
    """Finding 1 (impostor): an API someone else tagged with the service's name is not adopted, whether it
    fronts something else or nothing; with bootstrap's own API recorded, a second tagged API is refused
    too, and deploy keeps to the recorded one."""
    name = _name()
    settings = _fronted(name)
    gateway = aws.apigateway
    other = str(gateway.create_api(Name="other", ProtocolType="HTTP", Tags={API_TAG: name})["ApiId"])
    gateway.create_integration(
        ApiId=other,
        IntegrationType="HTTP_PROXY",
        IntegrationUri="https://example.com",
        IntegrationMethod="ANY",
    )
    with pytest.raises(ConfigError, match=f"{other} carries the tag .* do not front alias live"):
        _boot(aws, name).plan(settings)
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):  # nothing was changed
        aws.iam.get_role(RoleName=f"{name}-nfldeploy")
    gateway.delete_api(ApiId=other)

    empty = str(gateway.create_api(Name="empty", ProtocolType="HTTP", Tags={API_TAG: name})["ApiId"])
    with pytest.raises(ConfigError, match=f"{empty} carries the tag .* fronts nothing"):
        _boot(aws, name).plan(settings)
    gateway.delete_api(ApiId=empty)

    ours = bootstrap(aws, settings).api_id
    assert ours is not None
    impostor = str(gateway.create_api(Name="impostor", ProtocolType="HTTP", Tags={API_TAG: name})["ApiId"])
    with pytest.raises(ConfigError, match="more than one HTTP API carries the tag") as refused:
        _boot(aws, name).plan(settings)
    assert ours in str(refused.value) and impostor in str(refused.value)
    target = LambdaTarget(aws, name, REGION, endpoint="api_gateway")
    assert target.endpoints.api() is not None and target.endpoints.api()["ApiId"] == ours  # type: ignore[index]


def _put_role_extras(aws: AwsClients, role: str) -> str:
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    arn = aws.iam.create_policy(
        PolicyName=f"admin-{uuid.uuid4().hex[:6]}", PolicyDocument=json.dumps(everything)
    )["Policy"]["Arn"]
    aws.iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    aws.iam.put_role_policy(RoleName=role, PolicyName="star", PolicyDocument=json.dumps(everything))
    return str(arn)


def test_policies_on_the_execution_role_nfldeploy_did_not_write_are_refused_or_pruned(
    aws: AwsClients,
) -> None:
    """Finding 3: whatever else is on the execution role, the function's code (the deployer's) may use; the
    plan refuses it, naming each, and --prune removes it. A permissions boundary only narrows: kept, shown."""
    name = _name()
    settings = settings_for(name)
    role = f"{name}-nfldeploy"
    bootstrap(aws, settings)
    arn = _put_role_extras(aws, role)
    boundary = aws.iam.create_policy(
        PolicyName=f"boundary-{uuid.uuid4().hex[:6]}",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    aws.iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=boundary)
    boot = _boot(aws, name)
    with pytest.raises(ConfigError) as refused:
        boot.plan(settings)
    assert f"managed policy {arn}" in str(refused.value) and "inline policy star" in str(refused.value)
    assert "--prune" in (refused.value.hint or "")
    pruned = boot.plan(settings, prune=True)
    assert _kinds(pruned) == ["detach_policy", "delete_role_policy"]
    done = boot.apply(pruned)
    assert done.boundary == boundary
    assert aws.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    assert aws.iam.list_role_policies(RoleName=role)["PolicyNames"] == ["nfldeploy-execution"]
    assert boot.plan(settings).empty


def test_a_repository_statement_letting_any_function_pull_is_refused_or_replaced(aws: AwsClients) -> None:
    """Finding 3: a statement Lambda wrote for an older deployer (lambda.amazonaws.com may pull, no
    aws:SourceArn) lets any function of any account run the image: refused, --prune replaces it; a user's
    statement of another kind stays."""
    name = _name()
    settings = settings_for(name)
    bootstrap(aws, settings)
    loose = {
        "Sid": "LambdaECRImageRetrievalPolicy",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
    }
    reader = {
        "Sid": "TeamReads",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "ecr:DescribeImages",
    }
    repository = settings.repository
    aws.ecr.set_repository_policy(
        repositoryName=repository,
        policyText=json.dumps({"Version": "2012-10-17", "Statement": [loose, reader]}),
    )
    boot = _boot(aws, name)
    with pytest.raises(ConfigError, match="LambdaECRImageRetrievalPolicy: no aws:SourceArn"):
        boot.plan(settings)
    boot.apply(boot.plan(settings, prune=True))
    policy = json.loads(aws.ecr.get_repository_policy(repositoryName=repository)["policyText"])
    assert [s["Sid"] for s in policy["Statement"]] == ["TeamReads", PULL_SID]
    assert boot.plan(settings).empty


def test_switching_back_to_the_function_url_revokes_the_api_grant_and_bootstrap_deletes_the_api(
    aws: AwsClients, aws_env: str
) -> None:
    """Finding 5 and the review's finding 1: after api_gateway, a deploy with function_url stops (exit 1,
    nothing changed) while bootstrap's HTTP API still fronts live as its own role (no grant on the function
    shows it, and the deployer can neither see nor delete it); bootstrap deletes the API and its role, and the
    next deploy revokes the grant an older nfldeploy gave API Gateway on live (nfldeploy-api-gateway)."""
    name = _name()
    fronted = _fronted(name)
    api = bootstrap(aws, fronted).api_id
    image = recorded_image(aws.ecr, fronted.repository)
    behind = LambdaTarget(
        aws, name, REGION, endpoint="api_gateway", waiter_config={"Delay": 0, "MaxAttempts": 5}
    )
    behind.apply(behind.plan(fronted, image))
    aws.lambda_.add_permission(  # as nfldeploy before bootstrap granted it: no integration role
        FunctionName=name,
        Qualifier="live",
        StatementId="nfldeploy-api-gateway",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*",
    )
    direct = settings_for(name, allow_unauthenticated=True, function_url_auth="NONE")
    private = settings_for(name)  # AWS_IAM: the switch the review tried
    for settings in (direct, private):
        deployer = _deployer_target(aws, aws_env, settings)  # holding exactly the policy rendered for it
        fronting = f"the HTTP API {api} that bootstrap made still fronts"
        with iam_enforced(), pytest.raises(ConfigError, match=fronting):
            deployer.plan(settings, image)
    assert aws.apigateway.get_api(ApiId=api)["ApiId"] == api  # nothing was changed
    assert "live" not in _url_qualifiers(aws, name)

    boot = _boot(aws, name)
    back = boot.plan(direct)
    assert _kinds(back) == ["delete_http_api", "forget_http_api", "delete_api_role"]
    boot.apply(back)
    with pytest.raises(aws.apigateway.exceptions.NotFoundException):
        aws.apigateway.get_api(ApiId=api)
    with pytest.raises(aws.iam.exceptions.NoSuchEntityException):
        aws.iam.get_role(RoleName=f"{name}-nfldeploy-api")
    assert boot.plan(direct).empty

    target = LambdaTarget(aws, name, REGION, waiter_config={"Delay": 0, "MaxAttempts": 5})
    plan = target.plan(direct, image)
    assert ("revoke_grant", "live/nfldeploy-api-gateway") in [(a.kind, a.subject) for a in plan.actions]
    target.apply(plan)
    policy = json.loads(aws.lambda_.get_policy(FunctionName=name, Qualifier="live")["Policy"])
    assert "nfldeploy-api-gateway" not in [s["Sid"] for s in policy["Statement"]]
    assert all(s["Principal"] == "*" for s in policy["Statement"])  # the public URL's two grants


def _url_qualifiers(aws: AwsClients, name: str) -> list[str]:
    pages = aws.lambda_.get_paginator("list_function_url_configs").paginate(FunctionName=name)
    return [c["FunctionArn"].rsplit(":", 1)[-1] for page in pages for c in page["FunctionUrlConfigs"]]
