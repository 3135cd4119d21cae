"""``nfldeploy up``: export (unless current), build, run locally, smoke-test; print the URL and the report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from nfldeploy.cli.common import CHECKPOINT_OPTION, JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import check_mark, command_name, print_json, stderr, stdout, warn
from nfldeploy.smoke.checks import CheckResult


def up(
    config_path: Path | None = typer.Argument(
        None, metavar="CONFIG", help="Training config JSON. Default: the shipped example."
    ),
    checkpoint: Path | None = CHECKPOINT_OPTION,
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Local port of the service."),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The main job: export (skipped when the export matches the config and checkpoint), build the image,
    run it on the local Docker engine, smoke-test it, and print where it is. Without a Docker engine it
    serves in process (a background nfldeploy serve, replaced by the next up) and says so. Exit 3 when the
    smoke test fails: what served before keeps serving (nothing, the first time)."""
    from nfldeploy.smoke.report import as_json as report_json
    from nfldeploy.up import up as run_up

    settings = resolve_settings(settings_file, overrides).settings
    console = stderr()
    with console.status("nfldeploy up", spinner="dots") as status:

        def on_step(message: str) -> None:
            console.log(message)
            status.update(message)

        def on_result(result: CheckResult) -> None:
            mark = check_mark(result.passed, result.skipped)
            console.print(f"  {mark} {result.name}: {result.detail}", highlight=False)

        result = run_up(
            config_path, settings, port, checkpoint_path=checkpoint, on_step=on_step, on_result=on_result
        )
    for note in result.notes:
        warn(note)
    if as_json:
        print_json(
            {
                "url": result.url,
                "mode": result.mode,
                "where": result.where,
                "next": [
                    f"{command_name()} {command}" + (f" --settings {settings_file}" if settings_file else "")
                    for command in result.follow_ups
                ],
                "image": result.image,
                "exported": result.exported,
                "smoke": report_json(result.report.url, result.report.results, result.report.extra),
            }
        )
        return
    passed = sum(r.passed and not r.skipped for r in result.report.results)
    skipped = sum(r.skipped for r in result.report.results)
    counts = f"{passed}/{len(result.report.results)} smoke checks passed" + (
        f", {skipped} skipped" if skipped else ""
    )
    program = command_name()
    settings_flag = f" --settings {settings_file}" if settings_file is not None else ""
    follow_ups = "".join(f"\n  {program} {command}{settings_flag}" for command in result.follow_ups)
    stdout().print(
        f"[green]up[/]: {result.url}  ({counts})\n"
        f"  {escape(result.where)}{escape(follow_ups)}\n"
        f"  try: curl -X POST {result.url}/predict -H 'Content-Type: application/json' -d '{{\"players\": "
        f'[{{"x": 50, "y": 26, "s": 5.0, "a": 0.5, "dis": 1.2, "o": 90, "dir": 90}}], '
        f'"game_context": {{"down": 1, "distance": 10}}}}\'',
        highlight=False,
        markup=True,
    )
