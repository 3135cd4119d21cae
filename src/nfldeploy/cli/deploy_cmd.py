"""``nfldeploy deploy``, ``status`` and ``rollback``. Targets built so far: local."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stderr, stdout
from nfldeploy.errors import ConfigError
from nfldeploy.export.pipeline import DEFAULT_OUT


class TargetName(StrEnum):
    """Deploy targets that exist (Cloud Run, Lambda and Kubernetes are not built yet)."""

    local = "local"


TARGET_OPTION = typer.Option(
    TargetName.local, "--target", help="Where to deploy: local (the Docker engine here)."
)
PORT_OPTION = typer.Option(8080, "--port", help="local: the host port the service answers on.")


def _target(
    name: TargetName, settings_file: Path | None, overrides: list[str] | None, port: int
) -> tuple[Any, Any]:
    from nfldeploy.image.engine import connect
    from nfldeploy.targets.local import LocalTarget

    settings = resolve_settings(settings_file, overrides).settings
    return LocalTarget(connect(), settings.service_name, port), settings


def _last_image(export_dir: Path) -> str:
    from nfldeploy.image.build import read_record

    record = read_record(export_dir)
    build = record.get("builds", {}).get("server-onnx") or record.get("builds", {}).get(
        record.get("last", "")
    )
    if not build:
        raise ConfigError(
            "no --image given and no build recorded", hint="Run nfldeploy build, or pass --image."
        )
    return str(build["tag"])


def deploy(
    target: TargetName = TARGET_OPTION,
    image: str | None = typer.Option(
        None, "--image", help="Image to deploy. Default: the last server build."
    ),
    export_dir: Path = typer.Option(DEFAULT_OUT, "--export-dir", help="Where the build record lives."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Plan the change from what runs now to what the settings and image want, then apply it: the new
    revision must be ready before it replaces the serving one, and a failed apply leaves the previous
    revision serving. --dry-run prints the plan (empty when nothing would change)."""
    deployer, settings = _target(target, settings_file, overrides, port)
    plan = deployer.plan(settings, image or _last_image(export_dir))
    if dry_run or (as_json and plan.empty):
        if as_json:
            print_json({"dry_run": dry_run, "plan": plan.as_dict()})
        else:
            _print_plan(plan)
        return
    if not as_json:
        _print_plan(plan)
    console = stderr()
    with console.status(f"deploying {plan.image} to {plan.target}", spinner="dots"):
        deployment = deployer.apply(plan)
    if as_json:
        print_json({"plan": plan.as_dict(), "deployment": deployment.as_dict()})
        return
    verb = "deployed" if deployment.changed else "unchanged"
    stdout().print(
        f"[green]{verb}[/] {deployment.revision} at {deployment.url} (traffic {deployment.traffic})"
        + (f"; previous {deployment.previous} kept for rollback" if deployment.previous else ""),
        highlight=False,
    )


def _print_plan(plan: Any) -> None:
    table = Table(title=f"plan for {plan.service} on {plan.target}: {plan.image}", title_justify="left")
    for column in ("#", "action", "subject", "detail"):
        table.add_column(column)
    for index, action in enumerate(plan.actions, 1):
        table.add_row(str(index), action.kind, action.subject, action.detail)
    if plan.empty:
        stdout().print(f"plan for {plan.service} on {plan.target}: nothing to change", highlight=False)
    else:
        stdout().print(table)


def status(
    target: TargetName = TARGET_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revisions, which one serves, traffic and URL."""
    deployer, _ = _target(target, settings_file, overrides, port)
    state = deployer.status()
    if as_json:
        print_json(state)
        return
    table = Table(
        title=f"{state['service']} on {state['target']}: {state['url'] or 'not serving'}",
        title_justify="left",
    )
    for column in ("revision", "state", "image", "traffic"):
        table.add_column(column)
    for rev in state["revisions"]:
        table.add_row(rev["name"], rev["state"], rev["image"], f"{state['traffic'].get(rev['name'], 0)} %")
    stdout().print(table)


def rollback(
    target: TargetName = TARGET_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve the previous revision again (the current one is kept stopped)."""
    deployer, _ = _target(target, settings_file, overrides, port)
    deployment = deployer.rollback()
    if as_json:
        print_json(deployment.as_dict())
        return
    stdout().print(f"[green]rolled back[/] to {deployment.revision} at {deployment.url}", highlight=False)
