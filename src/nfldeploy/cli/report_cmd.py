"""``nfldeploy report``: one self-contained HTML page about the deployment, with its data as JSON beside."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from nfldeploy.cli.common import EXPORT_DIR_OPTION, JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.deploy_cmd import PORT_OPTION
from nfldeploy.cli.output import print_json, stdout
from nfldeploy.targets.select import TargetName


def report(
    target: TargetName | None = typer.Option(
        None,
        "--target",
        "-t",
        help="The deployment to report on (its status): local, cloudrun, lambda, kubernetes.",
    ),
    out: Path = typer.Option(
        Path("outputs/report.html"), "--out", "-o", help="The page; the JSON goes beside it."
    ),
    export_dir: Path = EXPORT_DIR_OPTION,
    port: int = PORT_OPTION,
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a page people can look at (no network needed to view it): the lineage chain (config ->
    checkpoint -> artifact -> image -> revision -> URL), the export's gates, the smoke tests, the deployment
    checklist, the last bench's latency distribution, and the golden plays drawn on a field with every
    player's position, history and predicted trajectory (the other modes faintly). Parts without a record
    are marked missing; the page is written anyway. The same data is written as JSON next to it."""
    from nfldeploy.checklist import build_checklist, gather
    from nfldeploy.render.report_page import render_page
    from nfldeploy.report import build_report

    inputs = gather(export_dir, resolve_settings(settings_file, overrides), target, port)
    data = build_report(inputs, build_checklist(inputs))
    out.parent.mkdir(parents=True, exist_ok=True)
    data_path = out.with_suffix(".json")
    data_path.write_text(json.dumps(data, indent=2) + "\n")
    out.write_text(render_page(data))
    if as_json:
        print_json({"page": str(out), "data": str(data_path)})
        return
    stdout().print(f"wrote {out} (open it in a browser) and {data_path}", highlight=False, markup=False)
