"""``nfldeploy push``: push the last built image (or a named one) to the configured registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stderr, stdout
from nfldeploy.errors import ConfigError
from nfldeploy.export.pipeline import DEFAULT_OUT


def push(
    image: str | None = typer.Argument(None, help="Image reference. Default: the last build of EXPORT_DIR."),
    registry: str | None = typer.Option(
        None, "--registry", help="host[:port][/path] (default: the 'registry' setting)."
    ),
    export_dir: Path = typer.Option(DEFAULT_OUT, "--export-dir", help="Where the build record lives."),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Push with progress; records the pushed digest in the build record. Exit 4 when the registry refuses."""
    from nfldeploy.image.build import BuildResult, read_record, write_record
    from nfldeploy.image.engine import connect
    from nfldeploy.image.push import push_image

    settings = resolve_settings(settings_file, overrides).settings
    record = read_record(export_dir)
    last = record.get("builds", {}).get(record.get("last", ""), None)
    reference = image or (last or {}).get("tag")
    if not reference:
        raise ConfigError("no image given and no build recorded", hint="Run nfldeploy build, or pass IMAGE.")
    target = registry or settings.registry
    layers: dict[str, str] = {}
    console = stderr()
    with console.status(f"pushing {reference}", spinner="dots") as status:

        def on_progress(event: dict[str, Any]) -> None:
            if "id" in event and "status" in event:
                layers[event["id"]] = event["status"]
                done = sum(
                    state in ("Pushed", "Layer already exists", "Mounted from") for state in layers.values()
                )
                status.update(f"pushing {reference}: {done}/{len(layers)} layers")

        pushed, digest = push_image(connect(), reference, target, on_progress=on_progress)
    if last and last.get("tag") == reference:
        fields = {k: v for k, v in last.items() if k in BuildResult.__dataclass_fields__}
        result = BuildResult(**fields)
        result.pushed[pushed] = digest
        write_record(export_dir, result)
    if as_json:
        print_json({"reference": pushed, "digest": digest})
        return
    stdout().print(f"[green]pushed[/] {pushed}@{digest}", highlight=False)
