"""moto's server, under ``iam_enforced``, decides every request with its ``Condition`` blocks and the context
keys AWS supplies (tests/moto_extensions.py, tests/iam_evaluation.py): a wrong condition is refused as AWS
refuses it. Each test cites the page that states the rule; every one passed on moto's own evaluation, which
ignored conditions."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from moto_extensions import Refused, authorize, iam_enforced

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class Identity:
    """An IAM user whose only permissions are one inline policy, and its access key."""

    name: str
    arn: str
    key: dict[str, str]
    endpoint: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.key["AccessKeyId"],
            aws_secret_access_key=self.key["SecretAccessKey"],
        )


def _admin(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def _identity(endpoint: str, *statements: dict[str, Any], prefix: str = "deployer") -> Identity:
    iam = _admin(endpoint, "iam")
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    user = iam.create_user(UserName=name)["User"]
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Identity(name, user["Arn"], key, endpoint)


def _role(endpoint: str) -> str:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}]}
    name = f"role-{uuid.uuid4().hex[:6]}"
    role = _admin(endpoint, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _zip() -> bytes:
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return code.getvalue()


def _create_function(client: Any, name: str, role: str) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
    )


@pytest.fixture
def function(aws_env: str) -> Iterator[str]:
    """A function with the aliases live and canary (made by the admin, before enforcement)."""
    name = f"fn-{uuid.uuid4().hex[:6]}"
    admin = _admin(aws_env, "lambda")
    _create_function(admin, name, _role(aws_env))
    admin.get_waiter("function_active_v2").wait(FunctionName=name)
    version = admin.publish_version(FunctionName=name)["Version"]
    for alias in ("live", "canary"):
        admin.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    yield name
    admin.delete_function(FunctionName=name)


def _refusal(call: Any, **arguments: Any) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call(**arguments)
    return refused.value


def _function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def test_pass_role_for_another_service_is_refused_for_create_function(aws_env: str) -> None:
    """iam:PassedToService is the service the role is passed to; CreateFunction passes it to
    lambda.amazonaws.com (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html: CreateFunction,
    iam:PassRole, iam:PassedToService = lambda.amazonaws.com)."""
    role = _role(aws_env)

    def deployer(service: str) -> Identity:
        return _identity(
            aws_env,
            {"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": role,
                "Condition": {"StringEquals": {"iam:PassedToService": service}},
            },
        )

    for_ec2, for_lambda = deployer("ec2.amazonaws.com"), deployer("lambda.amazonaws.com")
    name = f"fn-{uuid.uuid4().hex[:6]}"
    with iam_enforced():
        refused = _refusal(
            for_ec2.client("lambda").create_function,
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )
        assert refused.response["Error"]["Code"] == "AccessDenied"
        message = refused.response["Error"]["Message"]
        assert f"is not authorized to perform: iam:PassRole on resource: {role}" in message
        assert "because no identity-based policy allows the iam:PassRole action" in message
        _create_function(for_lambda.client("lambda"), name, role)
    _admin(aws_env, "lambda").delete_function(FunctionName=name)


def test_a_string_like_mismatch_on_the_url_auth_type_is_refused(aws_env: str, function: str) -> None:
    """lambda:FunctionUrlAuthType is the AuthType a CreateFunctionUrlConfig / UpdateFunctionUrlConfig asks for
    (list_awslambda.html); StringLike matches with wildcards, case-sensitively
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html)."""
    deployer = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": ["lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"],
            "Resource": _function_arn(function, "*"),
            "Condition": {"StringLike": {"lambda:FunctionUrlAuthType": "AWS_*"}},
        },
    )
    client = deployer.client("lambda")
    with iam_enforced():
        refused = _refusal(
            client.create_function_url_config, FunctionName=function, Qualifier="live", AuthType="NONE"
        )
        assert "lambda:CreateFunctionUrlConfig" in refused.response["Error"]["Message"]
        client.create_function_url_config(FunctionName=function, Qualifier="live", AuthType="AWS_IAM")
        _refusal(client.update_function_url_config, FunctionName=function, Qualifier="live", AuthType="NONE")
        client.update_function_url_config(FunctionName=function, Qualifier="live", AuthType="AWS_IAM")
    assert _admin(aws_env, "lambda").get_function_url_config(FunctionName=function, Qualifier="live")[
        "AuthType"
    ] == ("AWS_IAM")


def test_an_arn_like_mismatch_is_refused(aws_env: str, function: str) -> None:
    """ArnLike compares each of an ARN's six components with wildcards (condition operators page);
    aws:PrincipalArn is the caller's ARN, in every request
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    statement = {
        "Effect": "Allow",
        "Action": "lambda:GetFunction",
        "Resource": _function_arn(function),
        "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/deployer-*"}},
    }
    deployer = _identity(aws_env, statement, prefix="deployer")
    stranger = _identity(aws_env, statement, prefix="stranger")
    with iam_enforced():
        deployer.client("lambda").get_function(FunctionName=function)
        refused = _refusal(stranger.client("lambda").get_function, FunctionName=function)
        assert stranger.arn in refused.response["Error"]["Message"]


def test_add_permission_is_refused_for_another_principal(aws_env: str, function: str) -> None:
    """lambda:Principal is AddPermission's Principal (list_awslambda.html), so a deployer allowed to let the
    HTTP API invoke cannot make the function public."""
    deployer = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": "lambda:AddPermission",
            "Resource": _function_arn(function, "live"),
            "Condition": {"StringEquals": {"lambda:Principal": "apigateway.amazonaws.com"}},
        },
    )
    client = deployer.client("lambda")
    grant = {"FunctionName": function, "Qualifier": "live", "Action": "lambda:InvokeFunction"}
    with iam_enforced():
        _refusal(client.add_permission, StatementId="public", Principal="*", **grant)
        client.add_permission(StatementId="api", Principal="apigateway.amazonaws.com", **grant)


def test_a_deny_with_a_condition_refuses_only_what_it_names(aws_env: str, function: str) -> None:
    """An explicit Deny overrides any Allow, when its condition holds
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html); moto denied
    every request the statement named, whatever its condition."""
    deployer = _identity(
        aws_env,
        {"Effect": "Allow", "Action": "lambda:*", "Resource": _function_arn(function, "*")},
        {
            "Effect": "Deny",
            "Action": ["lambda:CreateFunctionUrlConfig", "lambda:UpdateFunctionUrlConfig"],
            "Resource": "*",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        },
    )
    client = deployer.client("lambda")
    with iam_enforced():
        refused = _refusal(
            client.create_function_url_config, FunctionName=function, Qualifier="canary", AuthType="NONE"
        )
        assert "with an explicit deny in an identity-based policy" in refused.response["Error"]["Message"]
        client.create_function_url_config(FunctionName=function, Qualifier="canary", AuthType="AWS_IAM")


def test_an_operator_the_stand_in_does_not_know_fails_loudly(aws_env: str, function: str) -> None:
    """Never a silent allow: the request is answered 500 naming what it cannot decide (moto's policy validator
    already refuses an unknown operator at PutUserPolicy; a policy variable it accepts)."""
    deployer = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "Resource": _function_arn(function),
            "Condition": {"StringEquals": {"aws:username": "${aws:username}"}},
        },
    )
    with iam_enforced():
        refused = _refusal(deployer.client("lambda").get_function, FunctionName=function)
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "policy variables are not evaluated" in str(refused)


def _api(aws_env: str, name: str, tags: dict[str, str], stage_tags: dict[str, str] | None) -> str:
    gateway = _admin(aws_env, "apigatewayv2")
    api = gateway.create_api(Name=name, ProtocolType="HTTP", Tags=tags)["ApiId"]
    stage = {"Tags": stage_tags} if stage_tags is not None else {}
    gateway.create_stage(ApiId=api, StageName="$default", AutoDeploy=True, **stage)
    gateway.create_route(ApiId=api, RouteKey="$default")
    return str(api)


def test_a_resource_tag_condition_refuses_another_services_api(aws_env: str) -> None:
    """aws:ResourceTag/* is the tag of the API or stage a path names (the Service Authorization Reference for
    API Gateway V2: .../list_amazonapigatewaymanagementv2.html). A stage carries its own tags; child
    resources inheriting the API's tags is documented for V1 only
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html),
    so the stand-in allows only what both readings allow."""
    ours = _api(aws_env, "ours", {"nfldeploy-service": "svc-a"}, {"nfldeploy-service": "svc-a"})
    theirs = _api(aws_env, "theirs", {"nfldeploy-service": "svc-b"}, {"nfldeploy-service": "svc-b"})
    untagged_stage = _api(aws_env, "ours-too", {"nfldeploy-service": "svc-a"}, None)
    apis = f"arn:aws:apigateway:{REGION}::/apis"
    deployer = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": ["apigateway:GET", "apigateway:PATCH"],
            "Resource": [f"{apis}/*"],
            "Condition": {"StringEquals": {"aws:ResourceTag/nfldeploy-service": "svc-a"}},
        },
    )
    gateway = deployer.client("apigatewayv2")
    settings = {"StageName": "$default", "DefaultRouteSettings": {"ThrottlingRateLimit": 5.0}}
    with iam_enforced():
        assert gateway.get_api(ApiId=ours)["Tags"] == {"nfldeploy-service": "svc-a"}
        gateway.update_stage(ApiId=ours, **settings)
        for refused in (
            lambda: gateway.get_api(ApiId=theirs),  # another service's API
            lambda: gateway.update_stage(ApiId=theirs, **settings),  # its stage
            lambda: gateway.update_stage(
                ApiId=untagged_stage, **settings
            ),  # our API's stage, not tagged itself
            lambda: gateway.get_routes(ApiId=ours),  # a child that carries no tag of its own in V2
        ):
            with pytest.raises(ClientError, match="not authorized"):
                refused()


def test_request_tag_conditions_on_creating_an_api(aws_env: str) -> None:
    """aws:RequestTag/* and aws:TagKeys are the tags a create sets (list_amazonapigatewaymanagementv2.html: POST
    /apis); ForAllValues: needs every tag key listed, and a Null check that the tag is there
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition_examples-multi-valued-context-keys.html)."""
    deployer = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": "apigateway:POST",
            "Resource": f"arn:aws:apigateway:{REGION}::/apis",
            "Condition": {
                "StringEquals": {"aws:RequestTag/nfldeploy-service": "svc-a"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["nfldeploy-service", "team"]},
                "Null": {"aws:RequestTag/nfldeploy-service": "false"},
            },
        },
    )
    gateway = deployer.client("apigatewayv2")
    with iam_enforced():
        gateway.create_api(
            Name="tagged", ProtocolType="HTTP", Tags={"nfldeploy-service": "svc-a", "team": "ml"}
        )
        for tags in ({}, {"nfldeploy-service": "svc-b"}, {"nfldeploy-service": "svc-a", "owner": "me"}):
            with pytest.raises(ClientError, match="not authorized"):
                gateway.create_api(Name="refused", ProtocolType="HTTP", Tags=tags)


def _signed(identity: Identity, url: str, body: bytes) -> dict[str, str]:
    """The headers of a SigV4-signed POST to a function URL (service lambda), as a caller sends them."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Host": urlsplit(url).netloc, "Content-Type": "application/json"},
    )
    credentials = Credentials(identity.key["AccessKeyId"], identity.key["SecretAccessKey"])
    SigV4Auth(credentials, "lambda", REGION).add_auth(request)
    return dict(request.headers.items())


def test_invoking_through_an_aws_iam_url_needs_both_grants_with_their_conditions(
    aws_env: str, function: str
) -> None:
    """A same-account caller of an AWS_IAM function URL needs lambda:InvokeFunctionUrl and lambda:InvokeFunction
    (https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html); lambda:InvokedViaFunctionUrl (Bool) is true
    only for a call through the URL, lambda:FunctionUrlAuthType is the URL's auth type (list_awslambda.html).
    ``authorize`` is the entry point a function-URL front calls with those keys."""
    live = _function_arn(function, "live")
    caller = _identity(
        aws_env,
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": live,
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
        },
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": live,
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
        },
    )
    url, body = "https://abc123.lambda-url.us-east-1.on.aws/predict?explain=1", b'{"play": 1}'
    request = {
        "method": "POST",
        "path": "/predict?explain=1",
        "headers": _signed(caller, url, body),
        "body": body,
    }
    via_url = {"lambda:FunctionUrlAuthType": "AWS_IAM"}
    assert (
        authorize(**request, action="lambda:InvokeFunctionUrl", resource=live, context=via_url) == caller.arn
    )
    invoked = {"lambda:InvokedViaFunctionUrl": "true"}
    assert authorize(**request, action="lambda:InvokeFunction", resource=live, context=invoked) == caller.arn
    with pytest.raises(Refused) as direct:  # the Invoke API, not through the URL: the Bool key is absent
        authorize(**request, action="lambda:InvokeFunction", resource=live, context={})
    assert direct.value.status == 403 and direct.value.code == "AccessDenied"
    with pytest.raises(Refused):  # a URL of another auth type
        authorize(
            **request,
            action="lambda:InvokeFunctionUrl",
            resource=live,
            context={"lambda:FunctionUrlAuthType": "NONE"},
        )
    with pytest.raises(Refused):  # another qualifier
        authorize(
            **request,
            action="lambda:InvokeFunctionUrl",
            resource=_function_arn(function, "canary"),
            context=via_url,
        )
    with pytest.raises(Refused) as forged:
        authorize(
            **{**request, "body": b'{"play": 2}'},
            action="lambda:InvokeFunctionUrl",
            resource=live,
            context=via_url,
        )
    assert forged.value.code == "SignatureDoesNotMatch"
    with pytest.raises(Refused) as unsigned:
        authorize(
            **{**request, "headers": {"Host": "abc123.lambda-url.us-east-1.on.aws"}},
            action="lambda:InvokeFunctionUrl",
            resource=live,
        )
    assert unsigned.value.status == 403


def test_a_resource_policy_given_to_authorize_allows_in_the_same_account(aws_env: str, function: str) -> None:
    """Within one account an allow in the resource-based policy suffices
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)."""
    live = _function_arn(function, "live")
    caller = _identity(aws_env, {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": live})
    url, body = "https://abc123.lambda-url.us-east-1.on.aws/", b""
    request = {"method": "POST", "path": "/", "headers": _signed(caller, url, body), "body": body}
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": caller.arn},
                "Action": "lambda:InvokeFunctionUrl",
                "Resource": live,
                "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}},
            }
        ],
    }
    via_url = {"lambda:FunctionUrlAuthType": "AWS_IAM"}
    with pytest.raises(Refused):
        authorize(**request, action="lambda:InvokeFunctionUrl", resource=live, context=via_url)
    authorize(
        **request, action="lambda:InvokeFunctionUrl", resource=live, context=via_url, resource_policy=grant
    )


def test_assume_role_is_decided_by_the_trust_policy_with_its_condition(aws_env: str) -> None:
    """sts:AssumeRole needs the caller's allow and the role's trust policy, whose conditions see the request's
    sts:ExternalId (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html,
    reference_policies_evaluation-logic.html)."""
    caller = _identity(aws_env, {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": caller.arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "release-7"}},
            }
        ],
    }
    name = f"ci-{uuid.uuid4().hex[:6]}"
    role = _admin(aws_env, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]
    sts = caller.client("sts")
    with iam_enforced():
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="release", ExternalId="release-7")
        for external in ({}, {"ExternalId": "release-8"}):  # no ExternalId: the key is absent
            refused = _refusal(sts.assume_role, RoleArn=role["Arn"], RoleSessionName="release", **external)
            assert "because the role's trust policy does not allow" in refused.response["Error"]["Message"]
