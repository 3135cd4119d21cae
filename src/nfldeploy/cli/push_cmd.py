"""``nfldeploy push``: push the last built image (or a named one) to the configured registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from nfldeploy.cli.choices import PushAuth
from nfldeploy.cli.common import JSON_OPTION, SET_OPTION, SETTINGS_OPTION, resolve_settings
from nfldeploy.cli.output import print_json, stderr, stdout
from nfldeploy.errors import ConfigError
from nfldeploy.export.layout import DEFAULT_OUT
from nfldeploy.records.build import read_build_record, write_build_record


def push(
    image: str | None = typer.Argument(
        None, metavar="IMAGE", help="Image reference. Default: the last build of EXPORT_DIR."
    ),
    registry: str | None = typer.Option(
        None, "--registry", help="host\\[:port]\\[/path] (default: the 'registry' setting)."
    ),
    export_dir: Path = typer.Option(DEFAULT_OUT, "--export-dir", help="Where the build record lives."),
    auth: PushAuth = typer.Option(
        PushAuth.auto,
        "--auth",
        help="auto (by registry host: ECR, Artifact Registry, else env, else docker config), ecr, gcp, env, docker.",
    ),
    settings_file: Path | None = SETTINGS_OPTION,
    overrides: list[str] | None = SET_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Push with progress; records the pushed digest in the build record. Credentials: an ECR token through
    boto3, an Artifact Registry access token from Application Default Credentials, NFLDEPLOY_REGISTRY_USERNAME /
    NFLDEPLOY_REGISTRY_PASSWORD, or the docker config; none is printed or written. Exit 4 when the registry
    refuses."""
    from nfldeploy.image.engine import connect
    from nfldeploy.image.push import push_image, registry_auth
    from nfldeploy.image.references import target_reference

    settings = resolve_settings(settings_file, overrides).settings
    record = read_build_record(export_dir)
    reference = image or (record.last_build.tag if record.last_build else None)
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

        credentials = registry_auth(auth.value, target_reference(reference, target), settings.aws_region)
        pushed, digest = push_image(connect(), reference, target, credentials, on_progress=on_progress)
    updated = record.with_push(reference, pushed, digest)
    if updated is not None:
        write_build_record(export_dir, updated)
    if as_json:
        print_json({"reference": pushed, "digest": digest})
        return
    stdout().print(f"[green]pushed[/] {pushed}@{digest}", highlight=False)
