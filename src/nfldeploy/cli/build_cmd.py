"""``nfldeploy build``: the serving image (or its Lambda variant) of an export, with the Docker SDK."""

from __future__ import annotations

from pathlib import Path

import typer

from nfldeploy.cli.choices import ImageKind, ImageRuntime
from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stderr, stdout
from nfldeploy.errors import ConfigError
from nfldeploy.export.layout import DEFAULT_OUT


def build(
    export_dir: Path = typer.Argument(
        DEFAULT_OUT, metavar="EXPORT_DIR", help="Output of nfldeploy export (holds manifest.json)."
    ),
    tag: str | None = typer.Option(
        None, "--tag", "-t", help="Image reference. Default: REPOSITORY:<config sha>-<artifact>."
    ),
    platform: str = typer.Option(
        "linux/amd64", "--platform", help="Target platform of the wheelhouse and image."
    ),
    runtime: ImageRuntime = typer.Option(
        ImageRuntime.onnx, "--runtime", help="onnx (no torch in the image) or torchscript."
    ),
    kind: ImageKind = typer.Option(
        ImageKind.server, "--kind", help="server (uvicorn) or lambda (awslambdaric handler)."
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not stream the build log."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Build the image: a wheelhouse for the target platform (cached), nfldeploy's wheel and the model, installed
    with pip --no-index (no network inside the build), non-root, OCI and lineage labels. Records the build
    next to the manifest (build-record.json). Exit 4 with the daemon's message when the build fails."""
    from nfldeploy.image.pipeline import build as run_build
    from nfldeploy.render.dockerfile import ImageSpec

    if not (export_dir / "manifest.json").is_file():
        raise ConfigError(
            f"no export at {export_dir} (manifest.json missing)", hint="Run nfldeploy export first."
        )
    settings = resolve_settings(settings_file, overrides).settings
    spec = ImageSpec(
        kind=kind.value,
        runtime=runtime.value,
        base_image=settings.base_image,
        port=settings.port,
        wheel=settings.nfldeploy_wheel,
    )
    console = stderr()
    with console.status("building", spinner="dots") as status:

        def on_step(message: str) -> None:
            console.log(message)
            status.update(message)

        def on_line(line: str) -> None:
            if not quiet:
                console.print(line, style="dim", highlight=False, markup=False)

        result = run_build(
            export_dir, spec, settings.repository, tag, platform, on_step=on_step, on_line=on_line
        )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    stdout().print(
        f"[green]built[/] {result.tag}\n  image id {result.image_id}\n  size {result.size_bytes / 1e6:.0f} MB, "
        f"{result.layers} layers, {result.cached_steps} steps from cache, {result.seconds} s\n"
        f"  lineage: config {result.labels.get('io.nfldeploy.config-sha256', '?')[:12]}, "
        f"model {result.labels.get('io.nfldeploy.model-sha256', '?')[:12]} ({result.labels.get('io.nfldeploy.artifact')})",
        highlight=False,
    )
