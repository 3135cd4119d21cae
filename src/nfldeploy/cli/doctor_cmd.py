"""``nfldeploy doctor``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stdout
from nfldeploy.doctor import FAIL, run_checks
from nfldeploy.errors import EXIT_USER

STYLES = {"ok": "green", "warn": "yellow", "fail": "red"}


def doctor(
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check this machine: Python, Docker engine, base image, registry, cloud credentials.

    Exit 1 when a check fails (warnings do not fail). No secret is ever printed.
    """
    settings = resolve_settings(settings_file, overrides).settings
    checks = run_checks(settings)
    failed = any(check.status == FAIL for check in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [check.as_dict() for check in checks]})
    else:
        table = Table(title="nfldeploy doctor", title_justify="left")
        for column in ("check", "status", "detail", "what to do"):
            table.add_column(column)
        for check in checks:
            style = STYLES[check.status]
            table.add_row(check.name, f"[{style}]{check.status}[/]", check.detail, check.hint)
        stdout().print(table)
    if failed:
        raise typer.Exit(EXIT_USER)
