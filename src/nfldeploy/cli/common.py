"""Options and helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings, ResolvedSettings, load_settings

JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON on stdout (for CI).")
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
    unknown = sorted(set(flags) - set(DeploySettings.model_fields))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) in --set: {', '.join(unknown)}",
            hint=f"Known settings: {', '.join(DeploySettings.model_fields)}.",
        )
    return load_settings(flags, settings_file=settings_file)


def check_url(url: str) -> str:
    """A service base URL: http(s)://host[:port], no trailing slash."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must start with http:// or https://, got {url!r}")
    return url.rstrip("/")
