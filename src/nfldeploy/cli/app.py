"""The ``nfldeploy`` command: global options, the error handler and the command registry."""

from __future__ import annotations

import inspect
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from nfldeploy import __version__
from nfldeploy.cli import (
    bench_cmd,
    bootstrap_cmd,
    build_cmd,
    checklist_cmd,
    config_cmd,
    deploy_cmd,
    doctor_cmd,
    export_cmd,
    logs_cmd,
    push_cmd,
    render_cmd,
    report_cmd,
    serve_cmd,
    smoke_cmd,
    up_cmd,
)
from nfldeploy.cli.output import report_error, report_internal_error, stderr
from nfldeploy.errors import EXIT_INTERNAL, NfldeployError


class _ErrorHandlingGroup(TyperGroup):
    """Turns NfldeployError into a message and its exit code; tracebacks only with --debug."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except NfldeployError as exc:
            if _debug(ctx):
                _traceback()
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except BrokenPipeError:  # the reader went away (nfldeploy ... | head): nothing left to say
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            stderr().print("[red]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _debug(ctx):
                _traceback()
            report_internal_error(exc)
            raise typer.Exit(EXIT_INTERNAL) from None

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command, its flags shown without a type in --help (typer shows ``<bool>`` for them)."""
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _hide_flag_types(command, ctx)
        return command

    def get_params(self, ctx: Any) -> Any:
        _hide_flag_types(self, ctx, recurse=False)
        return super().get_params(ctx)


def _hide_flag_types(command: Any, ctx: Any, recurse: bool = True) -> None:
    """Flags (``--json``, ``--dry-run``, ``--help``) take no value: show no ``<bool>`` metavar for them (in
    the command, and in the commands of a group such as ``config``)."""
    for param in [*command.params, command.get_help_option(ctx)]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values() if recurse else ():
        _hide_flag_types(sub, ctx)


def _debug(ctx: Any) -> bool:
    return bool((ctx.obj or {}).get("debug"))


def _traceback() -> None:
    """The exception being handled, with its traceback, on stderr (--debug); the exit code stays the
    documented one."""
    traceback.print_exc(file=sys.stderr)


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    name="nfldeploy",
    help=(
        "Take a trained NFL player-trajectory model from its training run (config JSON + checkpoint) to a "
        "verified inference service.\n\n"
        "Exit codes: 0 ok, 1 user/config error, 2 usage, 3 a check failed, 4 remote/cloud/docker error, "
        "5 internal error (a bug)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(config_cmd.app, name="config")
app.command("up")(up_cmd.up)
app.command("doctor")(doctor_cmd.doctor)
app.command("export")(export_cmd.export)
app.command("serve")(serve_cmd.serve)
app.command("render")(render_cmd.render)
app.command("build")(build_cmd.build)
app.command("push")(push_cmd.push)
app.command("bootstrap")(bootstrap_cmd.bootstrap)
app.command("deploy")(deploy_cmd.deploy)
app.command("status")(deploy_cmd.status)
app.command("rollback")(deploy_cmd.rollback)
app.command("smoke-test")(smoke_cmd.smoke_test)
app.command("bench")(bench_cmd.bench)
app.command("logs")(logs_cmd.logs)
app.command("checklist")(checklist_cmd.checklist)
app.command("report")(report_cmd.report)


def _paragraphs(doc: str) -> str:
    """A docstring as --help shows it best: each paragraph one line (the terminal wraps it), blank lines kept.
    Typer rewraps only the first paragraph and keeps the others' line breaks, which made them ragged."""
    text = inspect.cleandoc(doc)
    return "\n\n".join(" ".join(part.split("\n")) for part in text.split("\n\n"))


for _group in (app, config_cmd.app):
    for _info in _group.registered_commands:
        if _info.help is None and _info.callback is not None and _info.callback.__doc__:
            _info.help = _paragraphs(_info.callback.__doc__)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"nfldeploy {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks for errors.", envvar="NFLDEPLOY_DEBUG"
    ),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = {"debug": debug}


def main() -> None:
    """Console-script entry point."""
    app()
