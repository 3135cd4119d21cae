"""Lambda tests deploy after ``nfldeploy bootstrap``, as users do: the execution role, the ECR repository, the
log group (and the HTTP API) made with the admin credentials of the test's moto account."""

from __future__ import annotations

import dataclasses

import boto3

from nfldeploy.cloud.aws import AwsClients
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.lambda_bootstrap import Bootstrapped, LambdaBootstrap


def with_sts(aws: AwsClients) -> AwsClients:
    """``aws`` with an STS client (bootstrap reads the account from it) at the same endpoint, the
    environment's (admin) credentials, when it has none."""
    if aws.sts is not None:
        return aws
    sts = boto3.client("sts", endpoint_url=aws.iam.meta.endpoint_url, region_name=aws.iam.meta.region_name)
    return dataclasses.replace(aws, sts=sts)


def bootstrap(aws: AwsClients, settings: DeploySettings, *, prune: bool = False) -> Bootstrapped:
    """Bootstrap ``settings``' function with ``aws`` (admin clients); what it made."""
    boot = LambdaBootstrap(with_sts(aws), settings.service_name, settings.aws_region, sleep=lambda _: None)
    return boot.apply(boot.plan(settings, prune=prune))
