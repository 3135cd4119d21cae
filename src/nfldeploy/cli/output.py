"""Where output goes: results on stdout (tables or JSON), progress, logs and errors on stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

from nfldeploy.errors import NfldeployError


def stdout() -> Console:
    """Console for results (what a pipeline reads)."""
    return Console(file=sys.stdout, soft_wrap=True)


def stderr() -> Console:
    """Console for progress, warnings and errors."""
    return Console(file=sys.stderr, soft_wrap=True, log_path=False)


def print_json(data: Any) -> None:
    """Print a JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def warn(message: str) -> None:
    """A warning on stderr."""
    stderr().print(f"[yellow]warning:[/] {message}", highlight=False)


def report_error(error: NfldeployError) -> None:
    """Print an error and its hint on stderr."""
    console = stderr()
    console.print(f"[bold red]error:[/] {error.message}", highlight=False, markup=True)
    if error.hint:
        console.print(f"[cyan]hint:[/] {error.hint}", highlight=False)
