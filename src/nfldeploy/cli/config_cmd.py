"""``nfldeploy config``: show and validate the training config and deploy settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stdout, warn
from nfldeploy.config import TrainingRunConfig, load_training_config

app = typer.Typer(
    help="Inspect and validate the training config JSON and the deploy settings.", no_args_is_help=True
)

CONFIG_ARGUMENT = typer.Argument(
    ..., metavar="CONFIG", help="The training run's config JSON (outputs/<experiment>_config.json)."
)


def _config_summary(config: TrainingRunConfig) -> dict[str, Any]:
    return {
        "path": str(config.source),
        "experiment_name": config.experiment_name,
        "sha256": config.sha256,
        "feature_set": config.feature_set,
        "model": config.model_params(),
        "warnings": config.warnings,
    }


@app.command("validate")
def validate(config_path: Path = CONFIG_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """Check a training config JSON: exit 0 when it is usable, 1 with the offending key otherwise."""
    config = load_training_config(config_path)
    if as_json:
        print_json({"valid": True, **_config_summary(config)})
        return
    for message in config.warnings:
        warn(message)
    stdout().print(
        f"[green]ok[/] {config_path}: experiment {config.experiment_name!r}, "
        f"{config.feature_set} features, horizon {config.future_seq_len} frames, sha256 {config.sha256[:12]}",
        highlight=False,
    )


@app.command("show")
def show(
    config_path: Path | None = typer.Argument(
        None, metavar="CONFIG", help="A training config JSON to summarize as well."
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the resolved deploy settings, each with its source (flag > env > file > default)."""
    resolved = resolve_settings(settings_file, overrides)
    config = load_training_config(config_path) if config_path else None
    if as_json:
        print_json(
            {
                "settings": {
                    name: {"value": value, "source": source} for name, value, source in resolved.rows()
                },
                "settings_file": str(resolved.settings_file) if resolved.settings_file else None,
                "config": _config_summary(config) if config else None,
            }
        )
        return
    console = stdout()
    table = Table(title="deploy settings", title_justify="left")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("source", style="dim")
    for name, value, source in resolved.rows():
        table.add_row(name, "" if value is None else str(value), source)
    console.print(table)
    if config is not None:
        summary = Table(title=f"training config {config.source}", title_justify="left", show_header=False)
        summary.add_column("key")
        summary.add_column("value")
        summary.add_row("experiment", config.experiment_name)
        summary.add_row("sha256", config.sha256)
        summary.add_row("feature set", config.feature_set)
        for key, value in config.model_params().items():
            summary.add_row(key, str(value))
        console.print(summary)
        for message in config.warnings:
            warn(message)
