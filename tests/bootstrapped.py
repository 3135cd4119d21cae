"""Lambda tests deploy after ``nfldeploy bootstrap``, as users do: the execution role, the ECR repository, the
log group (and the HTTP API) made with the admin credentials of the test's moto account."""

from __future__ import annotations

from nfldeploy.cloud.aws import AwsClients
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.lambda_bootstrap import Bootstrapped, LambdaBootstrap


def bootstrap(aws: AwsClients, settings: DeploySettings) -> Bootstrapped:
    """Bootstrap ``settings``' function with ``aws`` (admin clients); what it made."""
    boot = LambdaBootstrap(aws, settings.service_name, settings.aws_region, sleep=lambda _: None)
    return boot.apply(boot.plan(settings))
