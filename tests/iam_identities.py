"""IAM identities for the tests on moto: a user holding exactly one policy, as its own clients, and a policy
with one action taken out (a broken grant)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from nfldeploy.cloud.aws import AwsClients


def user_clients(
    iam: Any, endpoint: str, policy: dict[str, Any], region: str, prefix: str = "user"
) -> AwsClients:
    """The clients of a new IAM user whose only policy is ``policy`` (its own access key)."""
    user = f"{prefix}-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName=prefix, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=region
    )
    return AwsClients(
        *(session.client(s, endpoint_url=endpoint) for s in ("lambda", "ecr", "iam")),
        apigateway=session.client("apigatewayv2", endpoint_url=endpoint),
        logs=session.client("logs", endpoint_url=endpoint),
    )


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """``policy`` with ``action`` taken out of every statement (a statement left with none is dropped)."""
    statements, found = [], False
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        found = found or action in actions
        kept = [a for a in actions if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    assert found, f"{action} is not in the policy"
    return {**policy, "Statement": statements}
