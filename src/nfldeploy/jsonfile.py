"""Reading JSON files with errors that point at the file, line and column."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON object from ``path``; any problem is a ConfigError naming the file."""
    data = read_json_value(path, what)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} must be a JSON object, got {type(data).__name__}")
    return data


def read_json_value(path: Path, what: str) -> object:
    """Read any JSON value from ``path``; any problem is a ConfigError naming the file."""
    if not path.exists():
        raise ConfigError(
            f"{what} not found: {path}", hint="Check the path; it is relative to where you run."
        )
    if path.is_dir():
        raise ConfigError(f"{what} is a directory, not a file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint=f"Fix the JSON syntax of the {what}; was the file truncated?",
        ) from exc
    return data
