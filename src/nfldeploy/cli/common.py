"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nfldeploy.errors import ConfigError
from nfldeploy.export.layout import DEFAULT_OUT
from nfldeploy.settings import RENAMED, DeploySettings, ResolvedSettings, load_settings

JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON on stdout (for CI).")
CHECKPOINT_OPTION = typer.Option(
    None,
    "--checkpoint",
    "-c",
    help="Checkpoint (.ckpt or state dict). Default: from the config's checkpoint_dir.",
)
SETTINGS_OPTION = typer.Option(
    None,
    "--settings",
    help="Settings file (default: ./nfldeploy.toml, else \\[tool.nfldeploy] in ./pyproject.toml).",
    exists=False,
    dir_okay=False,
)
SET_OPTION = typer.Option(
    None, "--set", metavar="KEY=VALUE", help="Override a deploy setting (highest precedence); repeatable."
)


def parse_overrides(pairs: list[str] | None) -> dict[str, Any]:
    """``["cpu=2", "region=europe-west1"]`` -> ``{"cpu": "2", "region": "europe-west1"}``."""
    result: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        result[key.strip().replace("-", "_")] = value
    return result


def resolve_settings(settings_file: Path | None, overrides: list[str] | None) -> ResolvedSettings:
    """Settings with CLI overrides applied; unknown override keys are errors."""
    flags = parse_overrides(overrides)
    unknown = sorted(set(flags) - set(DeploySettings.model_fields) - set(RENAMED))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) in --set: {', '.join(unknown)}",
            hint=f"Known settings: {', '.join(DeploySettings.model_fields)}.",
        )
    resolved = load_settings(flags, settings_file=settings_file)
    if resolved.warnings:
        from nfldeploy.cli.output import warn

        for message in resolved.warnings:
            warn(message)
    return resolved


def check_url(url: str) -> str:
    """A service base URL: http(s)://host[:port], no trailing slash."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https://, got {url!r}")
    return url.rstrip("/")


EXPORT_DIR_OPTION = typer.Option(
    DEFAULT_OUT,
    "--export-dir",
    help="The export directory (the output of nfldeploy export), or its manifest.json.",
)
MANIFEST_OPTION = typer.Option(None, "--manifest", hidden=True, help="Deprecated spelling of --export-dir.")


def export_dir_of(export_dir: Path, manifest: Path | None) -> Path:
    """The export directory from --export-dir, or from the deprecated --manifest (with a warning); a path to
    manifest.json means its folder."""
    if manifest is not None:
        from nfldeploy.cli.output import warn

        warn("--manifest is deprecated and goes in the next release: use --export-dir")
        export_dir = manifest
    return export_dir.parent if export_dir.name == "manifest.json" else export_dir
