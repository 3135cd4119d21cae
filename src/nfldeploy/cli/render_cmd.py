"""``nfldeploy render``: the deploy files of an export (Cloud Run, SAM, Kubernetes, compose stack)."""

from __future__ import annotations

from pathlib import Path

import typer

from nfldeploy.cli.choices import comma_list
from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stdout
from nfldeploy.export.layout import DEFAULT_OUT
from nfldeploy.records.build import read_build_record
from nfldeploy.records.manifest import read_manifest


def render(
    export_dir: Path = typer.Argument(
        DEFAULT_OUT, metavar="EXPORT_DIR", help="Output of nfldeploy export (holds manifest.json)."
    ),
    out: Path = typer.Option(Path("outputs/deploy"), "--out", "-o", help="Where the files go."),
    image: str | None = typer.Option(
        None, "--image", help="Image reference. Default: the last build, under the registry."
    ),
    only: str | None = typer.Option(
        None,
        "--only",
        help="Comma-separated: cloudrun, lambda, kubernetes, compose, github.",
        callback=comma_list(("cloudrun", "lambda", "kubernetes", "compose", "github")),
    ),
    replicas: int = typer.Option(
        2, "--replicas", min=1, help="API replicas behind nginx in the compose stack."
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Render the deploy files from templates/ with the settings and the export manifest (github: the CI
    workflow). Settings the target
    platform cannot take (cpu 3 on Cloud Run, 20Gi or a 1000 s timeout on Lambda, min above max instances)
    are refused before anything is written, naming the limit."""
    from nfldeploy.image.references import rendered_images
    from nfldeploy.render.files import render_all
    from nfldeploy.render.views import Inputs

    settings = resolve_settings(settings_file, overrides).settings
    manifest = read_manifest(export_dir)
    server, lambda_image = rendered_images(settings, manifest, read_build_record(export_dir), image)
    groups = [g.strip() for g in only.split(",")] if only else None
    written = render_all(Inputs(settings, manifest, server, lambda_image, replicas), out, groups)
    if as_json:
        print_json({"out": str(out), "files": [str(p) for p in written], "image": server})
        return
    console = stdout()
    console.print(f"[green]rendered[/] {len(written)} files into {out} for image {server}", highlight=False)
    for path in written:
        console.print(f"  {path}", highlight=False)
