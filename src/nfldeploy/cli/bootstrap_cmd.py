"""``nfldeploy bootstrap``: once, with admin credentials, what the narrow deployer may not make."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.deploy_cmd import print_plan
from nfldeploy.cli.output import print_json, stderr, stdout


class BootstrapTarget(StrEnum):
    """The targets whose deployer needs a bootstrap."""

    lambda_ = "lambda"


def bootstrap(
    target: BootstrapTarget = typer.Option(
        ..., "--target", "-t", help="lambda: the execution role, ECR repository, log group (and HTTP API)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Remove what nfldeploy did not write and would widen what runs as the function: other policies "
        "on the execution role, repository statements letting any function pull. Without it they are refused.",
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create or update what deploy runs on and its narrow deployer policy may not create, once, with admin
    credentials (as cdk bootstrap does): the execution role (its own log group, the API keys secret, a
    partial secret ARN completed), the ECR repository (scan on push, Lambda may pull), the log group with
    log_retention_days, and the HTTP API with lambda_endpoint = "api_gateway" (deleted again when it is
    function_url). A second run changes nothing; one after a run that stopped part-way finishes it. Policies
    on the role that nfldeploy did not write are refused unless --prune. --dry-run prints the plan."""
    from nfldeploy.cloud.aws import aws_clients
    from nfldeploy.cloud.call_limits import CallLimits
    from nfldeploy.targets.lambda_bootstrap import LambdaBootstrap

    settings = resolve_settings(settings_file, overrides).settings
    clients = aws_clients(settings.aws_region, CallLimits.of(settings))
    boot = LambdaBootstrap(clients, settings.service_name, settings.aws_region)
    plan = boot.plan(settings, prune=prune)
    if dry_run or (as_json and plan.empty):
        if as_json:
            print_json({"dry_run": dry_run, "plan": plan.as_dict()})
        else:
            print_plan(plan)
        return
    if not as_json:
        print_plan(plan)
    with stderr().status(f"bootstrapping {plan.service} on {target.value}", spinner="dots"):
        done = boot.apply(plan)
    if as_json:
        print_json({"plan": plan.as_dict(), "bootstrap": done.as_dict()})
        return
    verb = "bootstrapped" if done.changed else "already bootstrapped"
    stdout().print(
        f"[green]{verb}[/] {plan.service}: role {done.role_arn}, repository {done.repository_uri}, "
        f"log group {done.log_group}" + (f", HTTP API {done.api_id}" if done.api_id else ""),
        highlight=False,
    )
    if done.boundary:
        stdout().print(f"the execution role keeps its permissions boundary {done.boundary} (it only narrows)")
