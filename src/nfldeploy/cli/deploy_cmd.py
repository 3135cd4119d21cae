"""``nfldeploy deploy``, ``status`` and ``rollback`` on every target: local, cloudrun, lambda, kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from nfldeploy.cli.common import EXPORT_DIR_OPTION, JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stderr, stdout, warn
from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Plan
from nfldeploy.targets.select import TargetName, default_image, make_target

TARGET_OPTION = typer.Option(
    TargetName.local,
    "--target",
    "-t",
    help="local (the Docker engine here), cloudrun (Google Cloud Run), lambda (AWS Lambda), kubernetes "
    "(kubectl's context; render only without one).",
)
PORT_OPTION = typer.Option(8080, "--port", help="local: the host port the service answers on.")


def _settings(settings_file: Path | None, overrides: list[str] | None, **flags: Any) -> DeploySettings:
    extra = [f"{key}={value}" for key, value in flags.items() if value is not None]
    return resolve_settings(settings_file, [*(overrides or []), *extra]).settings


def _canary_check(export_dir: Path, token: str | None, target: TargetName, settings: DeploySettings) -> Any:
    """The smoke test a canary must pass through its own URL before it gets traffic."""

    def verify(url: str) -> None:
        from nfldeploy.smoke.run import smoke_url
        from nfldeploy.smoke.sigv4 import endpoint_auth

        stderr().print(f"smoke-testing the canary at {url}", highlight=False)
        auth = endpoint_auth(target.value, settings, canary=True)
        budget = settings.smoke_p95_budget_ms  # the release's latency budget, as the pipeline's smoke test
        smoke_url(
            url, export_dir, token, requests=20, p95_budget_ms=budget, auth=auth, platform=target.value
        ).raise_for_failures()

    return verify


def deploy(
    target: TargetName = TARGET_OPTION,
    image: str | None = typer.Option(
        None,
        "--image",
        help="Image to deploy. Default: the last build (its pushed digest for cloudrun and kubernetes; "
        "the Lambda build for lambda, pushed to ECR by the deploy).",
    ),
    canary: int | None = typer.Option(
        None,
        "--canary",
        min=1,
        max=99,
        metavar="PCT",
        help="cloudrun/lambda: the new revision gets PCT % of traffic (cloudrun: after a smoke test through "
        "its tag URL); the serving one keeps the rest.",
    ),
    promote: bool = typer.Option(
        False, "--promote", help="cloudrun/lambda: give the canary 100 % (no new revision)."
    ),
    no_wait: bool = typer.Option(
        False, "--no-wait", help="Return once the change is submitted, without waiting for readiness."
    ),
    allow_unauthenticated: bool | None = typer.Option(
        None,
        "--allow-unauthenticated/--no-allow-unauthenticated",
        help="Make the service public on purpose. cloudrun: let allUsers invoke it (the run.invoker IAM "
        "binding); lambda: accept function_url_auth NONE without API keys (refused otherwise).",
    ),
    endpoint: str | None = typer.Option(
        None,
        "--endpoint",
        help="lambda: function_url (default) or api_gateway (an HTTP API in front, throttled at "
        "rate_limit_rps); the lambda_endpoint setting.",
    ),
    smoke_token: str | None = typer.Option(
        None,
        "--smoke-token",
        envvar="NFLDEPLOY_SMOKE_TOKEN",
        help="Bearer token for the canary's smoke test.",
    ),
    export_dir: Path = EXPORT_DIR_OPTION,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Plan the change from what runs now to what the settings and image want, then apply it and print the
    URL. The new revision must be ready before it takes traffic; a failed apply leaves the previous
    revision serving and says so. --dry-run prints the plan (empty when nothing would change).

    Credentials come from the standard chains: Application Default Credentials for Cloud Run, the AWS chain
    for Lambda, kubectl's config for Kubernetes. Secrets travel as references, never as values."""
    settings = _settings(
        settings_file, overrides, allow_unauthenticated=allow_unauthenticated, lambda_endpoint=endpoint
    )
    if promote and (canary is not None or image is not None):
        raise ConfigError("--promote moves traffic to the deployed canary; it takes no --image or --canary")
    if promote and target not in (TargetName.cloudrun, TargetName.lambda_):
        raise ConfigError(f"--promote needs a target with canaries (cloudrun, lambda), not {target}")
    if canary is not None and target not in (TargetName.cloudrun, TargetName.lambda_):
        raise ConfigError(f"--canary needs cloudrun or lambda; {target} replaces the revision whole")
    deployer = make_target(
        target,
        settings,
        export_dir=export_dir,
        port=port,
        verify=_canary_check(export_dir, smoke_token, target, settings) if canary is not None else None,
        wait=not no_wait,
    )
    if promote:
        plan = deployer.plan_promote()
    else:
        wanted = image or default_image(target, export_dir, settings, allow_unpushed=dry_run)
        if image is None and target is TargetName.kubernetes and "@" not in wanted:
            warn(
                f"{wanted} is a local build the cluster cannot pull: push it first (nfldeploy push, the "
                "'registry' setting names where), then deploy; below is what would be applied with its local tag"
            )
        plan = deployer.plan(settings, wanted, canary=canary)
    if dry_run or (as_json and plan.empty):
        if as_json:
            print_json({"dry_run": dry_run, "plan": plan.as_dict()})
        else:
            print_plan(plan, show_manifest=dry_run and target is TargetName.kubernetes)
        return
    if not as_json:
        print_plan(plan)
    console = stderr()
    with console.status(f"deploying {plan.image} to {plan.target}", spinner="dots"):
        deployment = deployer.apply(plan)
    if as_json:
        print_json({"plan": plan.as_dict(), "deployment": deployment.as_dict()})
        return
    verb = "deployed" if deployment.changed else "unchanged"
    traffic = ", ".join(f"{rev} {pct} %" for rev, pct in deployment.traffic.items())
    stdout().print(
        f"[green]{verb}[/] {deployment.revision}"
        + (f" at {deployment.url}" if deployment.url else "")
        + (f" (traffic: {traffic})" if traffic else "")
        + (f"; previous {deployment.previous} kept for rollback" if deployment.previous else ""),
        highlight=False,
    )


def print_plan(plan: Plan, show_manifest: bool = False) -> None:
    table = Table(title=f"plan for {plan.service} on {plan.target}: {plan.image}", title_justify="left")
    for column in ("#", "action", "subject", "detail"):
        table.add_column(column)
    for index, action in enumerate(plan.actions, 1):
        table.add_row(str(index), action.kind, action.subject, action.detail)
    if plan.empty:
        stdout().print(f"plan for {plan.service} on {plan.target}: nothing to change", highlight=False)
    else:
        stdout().print(table)
    if show_manifest:
        from nfldeploy.targets.kubernetes import KubernetesSpec

        stdout().print(plan.spec_as(KubernetesSpec).manifest, markup=False, highlight=False)


def status(
    target: TargetName = TARGET_OPTION,
    export_dir: Path = EXPORT_DIR_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revisions (or versions), which one serves, the traffic split and the URL."""
    settings = _settings(settings_file, overrides)
    state = make_target(target, settings, export_dir=export_dir, port=port).status()
    if as_json:
        print_json(state.as_dict())
        return
    table = Table(
        title=f"{state.service} on {state.target}: {state.url or 'not serving'}",
        title_justify="left",
    )
    for column in ("revision", "state", "image", "traffic"):
        table.add_column(column)
    for rev in state.revisions:
        table.add_row(rev.name, rev.state, rev.image, f"{state.traffic.get(rev.name, 0)} %")
    stdout().print(table)
    if state.reach:
        stdout().print(f"reach it: {state.reach}", highlight=False, markup=False)
    if state.note:
        stdout().print(state.note, highlight=False, markup=False)


def rollback(
    target: TargetName = TARGET_OPTION,
    export_dir: Path = EXPORT_DIR_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Give all traffic back to the revision that served before (a canary in flight loses its share)."""
    settings = _settings(settings_file, overrides)
    deployment = make_target(target, settings, export_dir=export_dir, port=port).rollback()
    if as_json:
        print_json(deployment.as_dict())
        return
    stdout().print(
        f"[green]rolled back[/] to {deployment.revision}"
        + (f" at {deployment.url}" if deployment.url else ""),
        highlight=False,
    )
