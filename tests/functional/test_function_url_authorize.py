"""moto_extensions.authorize, as the function URL front calls it (tests/function_urls.py): the body it is given
is the caller's payload for the function, never a control-plane request, so whatever it holds the decision is
the policy's. A payload the stand-in once choked on (JSON nested past Python's recursion limit, the smoke test's
"nested junk" row) was a 500 from the front instead of the function's own 422."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from moto_extensions import Refused, authorize

REGION = "us-east-1"
HOST = "0123456789abcdef0123456789abcdef.lambda-url.us-east-1.on.aws"
NESTED = b'{"players": ' + b"[" * 3000 + b"]" * 3000 + b"}"
GRANT = {"lambda:FunctionUrlAuthType": "AWS_IAM"}


def _caller(endpoint: str, statements: list[dict[str, object]]) -> tuple[str, Credentials]:
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    name = f"caller-{uuid.uuid4().hex[:6]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def _decide(credentials: Credentials, body: bytes, resource: str) -> str:
    request = AWSRequest(
        "POST", f"https://{HOST}/predict", data=body, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials, "lambda", REGION).add_auth(request)
    headers = {"Host": HOST, **{name: value for name, value in request.headers.items()}}
    return authorize(
        method="POST",
        path="/predict",
        headers=headers,
        body=body,
        action="lambda:InvokeFunctionUrl",
        resource=resource,
        context=GRANT,
    )


@pytest.mark.parametrize("body", [NESTED, b'{"Principal": "*", "FunctionUrlAuthType": "NONE"}', b"\xff\xfe"])
def test_the_payload_never_changes_the_decision(aws_env: str, body: bytes) -> None:
    resource = f"arn:aws:lambda:{REGION}:123456789012:function:fn-{uuid.uuid4().hex[:6]}:live"
    statement = {"Effect": "Allow", "Action": "lambda:InvokeFunctionUrl", "Resource": resource}
    arn, allowed = _caller(aws_env, [{**statement, "Condition": {"StringEquals": GRANT}}])
    assert _decide(allowed, body, resource) == arn
    _, other = _caller(aws_env, [{**statement, "Resource": f"{resource[: -len(':live')]}:canary"}])
    with pytest.raises(Refused) as refused:
        _decide(other, body, resource)
    assert (refused.value.status, refused.value.code) == (403, "AccessDenied")
