"""The function URL front (tests/function_urls.py) against moto's server and the example's Lambda image under
AWS's Runtime Interface Emulator: who gets through an AWS_IAM URL and a NONE one, as
https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html has it, and that what gets through reaches the
version the alias names, answered by the real function."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from botocore.credentials import Credentials

from aws_rules import policy_of, public_url_refusal
from bootstrapped import bootstrap
from ecr_local import ecr_via_local_registry
from function_urls import FunctionUrlFront
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.settings import DeploySettings
from nfldeploy.smoke.sigv4 import SigV4Auth
from nfldeploy.targets.aws_lambda import LambdaTarget

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REGION = "us-east-1"
URL_GRANT = {"lambda:FunctionUrlAuthType": "AWS_IAM"}
INVOKE_GRANT = {"lambda:InvokedViaFunctionUrl": "true"}


@dataclass
class Deployed:
    name: str
    admin: AwsClients
    iam: Any
    arn: str  # the function's ARN, unqualified
    urls: dict[str, str]  # alias -> its function URL


def _admin(endpoint: str) -> AwsClients:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing-secret-value", region_name=REGION
    )
    return AwsClients(
        *(session.client(service, endpoint_url=endpoint) for service in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=endpoint),
        logs=session.client("logs", endpoint_url=endpoint),
        secrets=session.client("secretsmanager", endpoint_url=endpoint),
        sts=session.client("sts", endpoint_url=endpoint),
    )


@pytest.fixture(scope="module")
def deployed(moto_server: str, docker_client: Any, registry: Any, lambda_image: str) -> Iterator[Deployed]:
    """The example deployed by nfldeploy (alias live, an AWS_IAM URL), and three more aliases of version 1
    with NONE URLs: ``closed`` (no grant), ``half`` (InvokeFunctionUrl only), ``public`` (both grants)."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    admin = _admin(moto_server)
    settings = DeploySettings(service_name=name, repository=f"nfl/{name}", memory="1Gi", timeout=60)
    bootstrap(admin, settings)
    push = ecr_via_local_registry(docker_client, registry, admin.ecr, {})
    target = LambdaTarget(admin, name, REGION, push=push)
    live = target.apply(target.plan(settings, lambda_image))
    urls = {"live": live.url}
    for alias in ("closed", "half", "public"):
        admin.lambda_.create_alias(FunctionName=name, Name=alias, FunctionVersion="1")
        made = admin.lambda_.create_function_url_config(FunctionName=name, Qualifier=alias, AuthType="NONE")
        urls[alias] = made["FunctionUrl"]
    for alias in ("half", "public"):
        admin.lambda_.add_permission(
            FunctionName=name,
            Qualifier=alias,
            StatementId="public-url",
            Action="lambda:InvokeFunctionUrl",
            Principal="*",
            FunctionUrlAuthType="NONE",
        )
    admin.lambda_.add_permission(
        FunctionName=name,
        Qualifier="public",
        StatementId="public-invoke",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    arn = admin.lambda_.get_function_configuration(FunctionName=name)["FunctionArn"]
    yield Deployed(name, admin, admin.iam, arn.rsplit(":$LATEST", 1)[0], urls)


def _user(iam: Any, statements: list[dict[str, Any]]) -> tuple[str, Credentials]:
    """A new IAM user holding exactly ``statements`` (none: no identity policy); its ARN and credentials."""
    name = f"caller-{uuid.uuid4().hex[:6]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _grant(action: str, resource: str, condition: dict[str, str]) -> dict[str, Any]:
    operator = "Bool" if "InvokedVia" in next(iter(condition)) else "StringEquals"
    return {"Effect": "Allow", "Action": action, "Resource": resource, "Condition": {operator: condition}}


def _get(
    front: FunctionUrlFront, url: str, credentials: Credentials | None, region: str = REGION
) -> httpx.Response:
    auth = SigV4Auth(region, credentials=credentials) if credentials is not None else None
    with front.client(timeout=120) as client:
        return client.get(url.rstrip("/") + "/version", auth=auth)


def _forbidden(response: httpx.Response) -> bool:
    return response.status_code == 403 and response.json() == {"Message": "Forbidden"}


def test_a_signed_caller_with_both_grants_reaches_the_function(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    live = f"{deployed.arn}:live"
    arn, credentials = _user(
        deployed.iam,
        [
            _grant("lambda:InvokeFunctionUrl", live, URL_GRANT),
            _grant("lambda:InvokeFunction", live, INVOKE_GRANT),
        ],
    )
    response = _get(function_url_front, deployed.urls["live"], credentials)
    assert response.status_code == 200, response.text
    assert response.json()["experiment_name"] == "nfl_production_v2"  # the example's /version, from the RIE
    served = function_url_front.invocations[-1]
    assert (served.qualifier, served.version, served.caller) == ("live", "1", arn)
    # whatever the payload holds, it is the function's to answer (here JSON nested past Python's recursion
    # limit, the smoke test's "nested junk": the function's own 422, not a failure of the front)
    nested = b'{"players": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    with function_url_front.client(timeout=120) as client:
        junk = client.post(
            deployed.urls["live"].rstrip("/") + "/predict",
            content=nested,
            headers={"content-type": "application/json"},
            auth=SigV4Auth(REGION, credentials=credentials),
        )
    assert junk.status_code == 422 and junk.json()["error"]["code"] == "invalid_request", junk.text


@pytest.mark.parametrize("missing", ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"])
def test_a_signed_caller_missing_either_grant_is_forbidden(
    function_url_front: FunctionUrlFront, deployed: Deployed, missing: str
) -> None:
    live = f"{deployed.arn}:live"
    grants = [
        _grant("lambda:InvokeFunctionUrl", live, URL_GRANT),
        _grant("lambda:InvokeFunction", live, INVOKE_GRANT),
    ]
    _, credentials = _user(deployed.iam, [g for g in grants if g["Action"] != missing])
    response = _get(function_url_front, deployed.urls["live"], credentials)
    assert _forbidden(response), response.text
    assert function_url_front.refusals[-1].reason.startswith(f"{missing}: AccessDenied")


def test_grants_with_the_wrong_condition_or_qualifier_are_forbidden(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    live, canary = f"{deployed.arn}:live", f"{deployed.arn}:canary"
    for statements in (
        # InvokeFunction granted only outside function URLs
        [
            _grant("lambda:InvokeFunctionUrl", live, URL_GRANT),
            _grant("lambda:InvokeFunction", live, {"lambda:InvokedViaFunctionUrl": "false"}),
        ],
        # a public URL's grant for an AWS_IAM URL
        [
            _grant("lambda:InvokeFunctionUrl", live, {"lambda:FunctionUrlAuthType": "NONE"}),
            _grant("lambda:InvokeFunction", live, INVOKE_GRANT),
        ],
        # another alias's
        [
            _grant("lambda:InvokeFunctionUrl", canary, URL_GRANT),
            _grant("lambda:InvokeFunction", canary, INVOKE_GRANT),
        ],
    ):
        _, credentials = _user(deployed.iam, statements)
        assert _forbidden(_get(function_url_front, deployed.urls["live"], credentials))


def test_in_one_account_the_resource_policy_may_grant_instead(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    """Same account: the identity policy or the qualifier's resource policy (urls-auth.html, "either")."""
    arn, credentials = _user(deployed.iam, [])
    assert _forbidden(_get(function_url_front, deployed.urls["live"], credentials))
    lambda_ = deployed.admin.lambda_
    lambda_.add_permission(
        FunctionName=deployed.name,
        Qualifier="live",
        StatementId=f"url-{arn.rsplit('/', 1)[1]}",
        Action="lambda:InvokeFunctionUrl",
        Principal=arn,
        FunctionUrlAuthType="AWS_IAM",
    )
    assert _forbidden(_get(function_url_front, deployed.urls["live"], credentials))  # InvokeFunction missing
    lambda_.add_permission(
        FunctionName=deployed.name,
        Qualifier="live",
        StatementId=f"invoke-{arn.rsplit('/', 1)[1]}",
        Action="lambda:InvokeFunction",
        Principal=arn,
        InvokedViaFunctionUrl=True,
    )
    response = _get(function_url_front, deployed.urls["live"], credentials)
    assert response.status_code == 200, response.text


def test_a_wrong_secret_an_unsigned_request_or_another_region_is_forbidden(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    live = f"{deployed.arn}:live"
    _, credentials = _user(
        deployed.iam,
        [
            _grant("lambda:InvokeFunctionUrl", live, URL_GRANT),
            _grant("lambda:InvokeFunction", live, INVOKE_GRANT),
        ],
    )
    wrong = Credentials(credentials.access_key, credentials.secret_key + "x")
    assert _forbidden(_get(function_url_front, deployed.urls["live"], wrong))
    assert "SignatureDoesNotMatch" in function_url_front.refusals[-1].reason
    unknown = Credentials("AKIAUNKNOWNKEY000000", credentials.secret_key)
    assert _forbidden(_get(function_url_front, deployed.urls["live"], unknown))
    assert _forbidden(_get(function_url_front, deployed.urls["live"], None))
    assert "MissingAuthenticationToken" in function_url_front.refusals[-1].reason
    assert _forbidden(_get(function_url_front, deployed.urls["live"], credentials, region="us-west-2"))
    assert "valid region" in function_url_front.refusals[-1].reason
    assert _get(function_url_front, deployed.urls["live"], credentials).status_code == 200  # the same, right


def test_a_public_url_needs_both_public_grants(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    lambda_ = deployed.admin.lambda_
    for alias in ("closed", "half"):
        assert public_url_refusal(policy_of(lambda_, deployed.name, alias)) is not None  # AWS's rule agrees
        response = _get(function_url_front, deployed.urls[alias], None)
        assert _forbidden(response), (alias, response.text)
    assert "InvokeFunction to *" in function_url_front.refusals[-1].reason  # half: InvokeFunction missing
    assert public_url_refusal(policy_of(lambda_, deployed.name, "public")) is None
    response = _get(function_url_front, deployed.urls["public"], None)
    assert response.status_code == 200, response.text
    assert function_url_front.invocations[-1].caller is None


def test_an_unknown_host_is_forbidden_and_other_hosts_are_not_reached(
    function_url_front: FunctionUrlFront, deployed: Deployed
) -> None:
    with function_url_front.client(timeout=30) as client:
        unknown = client.get("https://0123456789abcdef0123456789abcdef.lambda-url.us-east-1.on.aws/version")
        assert _forbidden(unknown)
        with pytest.raises(httpx.ProxyError):
            client.get("https://example.com/")


def test_an_alias_with_weights_sends_each_version_its_share(
    function_url_front: FunctionUrlFront, deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AdditionalVersionWeights: the additional version gets its share of the alias's requests."""
    lambda_ = deployed.admin.lambda_
    lambda_.update_function_configuration(FunctionName=deployed.name, Timeout=59)
    lambda_.get_function_configuration(FunctionName=deployed.name)  # settled (moto_extensions)
    version = lambda_.publish_version(FunctionName=deployed.name)["Version"]
    lambda_.update_alias(
        FunctionName=deployed.name,
        Name="public",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {version: 0.5}},
    )
    monkeypatch.setattr(function_url_front, "rng", __import__("random").Random(3))
    served = []
    for _ in range(8):
        assert _get(function_url_front, deployed.urls["public"], None).status_code == 200
        served.append(function_url_front.invocations[-1].version)
    assert set(served) == {"1", version}, served
    lambda_.update_alias(
        FunctionName=deployed.name, Name="public", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert _get(function_url_front, deployed.urls["public"], None).status_code == 200
    assert function_url_front.invocations[-1].version == "1"
