"""``nfldeploy checklist``: the deployment guide's checklist with the evidence for each item."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from nfldeploy.cli.common import EXPORT_DIR_OPTION, JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.deploy_cmd import PORT_OPTION
from nfldeploy.cli.output import print_json, stdout
from nfldeploy.errors import CheckFailed
from nfldeploy.targets.select import TargetName


def checklist(
    target: TargetName | None = typer.Option(
        None,
        "--target",
        "-t",
        help="The deployment to judge (its status, logs and smoke tests): local, cloudrun, lambda, kubernetes.",
    ),
    export_dir: Path = EXPORT_DIR_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The guide's deployment checklist (model exported, API tested locally, image built and tested,
    environment configured, monitoring, logging, rate limiting, authentication, load testing, CI/CD,
    rollback plan), one row per item with its evidence and where it came from. An item without evidence is
    "missing" with the command that produces it. Exit 3 when a required item is missing (the
    checklist_required setting names them), so a pipeline can gate a release on it."""
    from nfldeploy.checklist import build_checklist, gather

    items = build_checklist(gather(export_dir, resolve_settings(settings_file, overrides), target, port))
    missing = [item for item in items if item.required and not item.ok]
    if as_json:
        print_json(
            {
                "target": target.value if target else None,
                "ready": not missing,
                "items": [i.as_dict() for i in items],
            }
        )
    else:
        table = Table(
            title=f"deployment checklist{f' for {target.value}' if target else ''}", title_justify="left"
        )
        for column in ("item", "state", "evidence", "source"):
            table.add_column(column, overflow="fold")
        for item in items:
            state = (
                "[green]ok[/]" if item.ok else ("[red]missing[/]" if item.required else "[yellow]missing[/]")
            )
            detail = item.evidence if item.ok else f"{item.evidence}; run: {item.fix}"
            table.add_row(item.title, state, Text(detail), Text(item.source))
        stdout().print(table)
    if missing:
        raise CheckFailed(
            f"{len(missing)} required checklist item(s) missing: {', '.join(item.title for item in missing)}",
            hint=missing[0].fix,
        )
