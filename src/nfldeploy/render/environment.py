"""The single Jinja environment."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from nfldeploy.errors import ConfigError


def templates_dir() -> Path:
    """templates/ inside the installed wheel, else the source tree's."""
    packaged = Path(str(resources.files("nfldeploy"))) / "templates"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[3] / "templates"
    if source.is_dir():
        return source
    raise ConfigError("nfldeploy's templates are missing from this installation", hint="Reinstall nfldeploy.")


@cache
def environment() -> jinja2.Environment:
    """StrictUndefined: a template naming a value the view model lacks is an error, never an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["tojson"] = lambda value: json.dumps(value)
    env.filters["tojson_indented"] = lambda value: json.dumps(value, indent=2)
    return env


def render_template(name: str, view: dict[str, Any]) -> str:
    """Render ``templates/<name>`` with ``view``."""
    try:
        return environment().get_template(name).render(**view)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"template {name} needs a value its view model lacks: {exc.message}") from exc
