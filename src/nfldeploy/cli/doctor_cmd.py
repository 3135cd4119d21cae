"""``nfldeploy doctor``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stdout
from nfldeploy.doctor import FAIL, Check, run_checks
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
        stdout().print(doctor_table(checks))
    if failed:
        raise typer.Exit(EXIT_USER)


def doctor_table(checks: list[Check]) -> Table:
    """The checks as a table; texts are printed as they are (``nfldeploy[export]`` is not markup) and wrap
    rather than being cut on a narrow terminal."""
    table = Table(title="nfldeploy doctor", title_justify="left")
    for column in ("check", "status", "detail", "what to do"):
        table.add_column(column, overflow="fold")
    for check in checks:
        status = Text(check.status, style=STYLES[check.status])
        table.add_row(Text(check.name), status, Text(check.detail), Text(check.hint))
    return table
