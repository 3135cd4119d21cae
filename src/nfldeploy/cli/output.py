"""Where output goes: results on stdout (tables or JSON), progress, logs and errors on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

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


def print_json_line(data: Any) -> None:
    """One JSON object on one line of stdout (JSON Lines: a stream a pipeline can read as it comes)."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    """A warning on stderr."""
    stderr().print(_labelled("warning:", "yellow", message), highlight=False)


def report_error(error: NfldeployError) -> None:
    """Print an error and its hint on stderr."""
    console = stderr()
    console.print(_labelled("error:", "bold red", error.message), highlight=False)
    if error.hint:
        console.print(_labelled("hint:", "cyan", error.hint), highlight=False)


def report_internal_error(exc: Exception) -> None:
    """An unexpected exception: its type and message, and how to get the traceback."""
    console = stderr()
    console.print(_labelled("internal error:", "bold red", f"{type(exc).__name__}: {exc}"), highlight=False)
    console.print(
        _labelled(
            "hint:", "cyan", "this is a bug in nfldeploy: rerun with --debug for the traceback and report it."
        ),
        highlight=False,
    )


def _labelled(label: str, style: str, message: str) -> Text:
    """A styled label and a message taken literally (brackets in it are text, not Rich markup)."""
    return Text.assemble((label, style), " ", message)


def check_mark(passed: bool, skipped: bool = False) -> str:
    """A check's outcome as Rich markup: pass, skip or FAIL."""
    if skipped:
        return "[yellow]skip[/]"
    return "[green]pass[/]" if passed else "[red]FAIL[/]"


def command_name() -> str:
    """How to call this nfldeploy again from here: ``nfldeploy`` when that is the one on PATH, else the path
    of the running one (e.g. ``.venv/bin/nfldeploy`` in a checkout whose venv is not activated)."""
    import os
    import shutil
    import sys

    running = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("nfldeploy")
    if running is None or running.name != "nfldeploy" or (on_path and Path(on_path).resolve() == running):
        return "nfldeploy"
    try:
        return os.path.relpath(running)
    except ValueError:  # another drive (Windows)
        return str(running)
