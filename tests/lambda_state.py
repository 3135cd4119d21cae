"""What a Lambda function looks like from outside, read as a reviewer would, for the tests on moto's server:
every function URL (all pages of ListFunctionUrlConfigs), every qualifier's public grants, every version
(all pages); and a service deployed after bootstrap from an image recorded in moto's ECR (no Docker)."""

from __future__ import annotations

import json
from typing import Any

from bootstrapped import bootstrap
from ecr_local import recorded_image
from nfldeploy.cloud.aws import AwsClients
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.aws_lambda import LambdaTarget

REGION = "us-east-1"


def settings_for(name: str, **values: Any) -> DeploySettings:
    return DeploySettings(service_name=name, repository=f"nfl/{name}", timeout=60, **values)


def service(aws: AwsClients, settings: DeploySettings, **options: Any) -> tuple[LambdaTarget, str]:
    """The target of ``settings``' function after bootstrap, and an image in its ECR repository."""
    bootstrap(aws, settings)
    image = recorded_image(aws.ecr, settings.repository)
    options = {"waiter_config": {"Delay": 0, "MaxAttempts": 5}, **options}
    endpoint = settings.lambda_endpoint
    return LambdaTarget(aws, settings.service_name, REGION, endpoint=endpoint, **options), image


def url_configs(aws: AwsClients, name: str) -> dict[str, str]:
    """Every function URL of the function, qualifier -> auth type ($LATEST: the unqualified one)."""
    found: dict[str, str] = {}
    for page in aws.lambda_.get_paginator("list_function_url_configs").paginate(FunctionName=name):
        for config in page["FunctionUrlConfigs"]:
            qualified = config["FunctionArn"].split(":function:", 1)[1].split(":")
            found[qualified[1] if len(qualified) > 1 else "$LATEST"] = config["AuthType"]
    return found


def aliases(aws: AwsClients, name: str) -> dict[str, dict[str, Any]]:
    pages = aws.lambda_.get_paginator("list_aliases").paginate(FunctionName=name)
    return {alias["Name"]: alias for page in pages for alias in page["Aliases"]}


def versions(aws: AwsClients, name: str) -> list[int]:
    """The published versions, ascending (every page)."""
    pages = aws.lambda_.get_paginator("list_versions_by_function").paginate(FunctionName=name)
    return sorted(int(v["Version"]) for page in pages for v in page["Versions"] if v["Version"] != "$LATEST")


def public_grants(aws: AwsClients, name: str) -> dict[str, list[str]]:
    """Every qualifier (the function itself, each alias, each version) whose resource policy grants anything
    to everyone ("*"), with the actions granted."""
    qualifiers: list[str | None] = [None, *aliases(aws, name), *(str(v) for v in versions(aws, name))]
    found: dict[str, list[str]] = {}
    for qualifier in qualifiers:
        kwargs = {"Qualifier": qualifier} if qualifier else {}
        try:
            policy = json.loads(aws.lambda_.get_policy(FunctionName=name, **kwargs)["Policy"])
        except aws.lambda_.exceptions.ResourceNotFoundException:
            continue
        public = [s["Action"] for s in policy["Statement"] if s.get("Principal") in ("*", {"AWS": "*"})]
        if public:
            found[qualifier or "$LATEST"] = sorted(public)
    return found


def cheap_versions(aws: AwsClients, name: str, count: int) -> None:
    """``count`` more published versions, each after a small configuration change, waiting as Lambda (and
    the stand-in) requires before the next change."""
    for index in range(count):
        aws.lambda_.update_function_configuration(FunctionName=name, Description=f"cheap version {index}")
        aws.lambda_.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0, "MaxAttempts": 5}
        )
        aws.lambda_.publish_version(FunctionName=name)
