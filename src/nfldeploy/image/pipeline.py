"""``nfldeploy build`` as a library call: context -> image -> build record."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nfldeploy.image.build import BuildResult, build_image, describe, write_record
from nfldeploy.image.context import assemble
from nfldeploy.image.engine import connect
from nfldeploy.jsonfile import read_json_object
from nfldeploy.render.dockerfile import ImageSpec


def default_tag(repository: str, manifest: dict[str, object], spec: ImageSpec, artifact: str) -> str:
    """``repository:<config sha12>-<artifact>[-lambda]``: one tag per model and variant."""
    config = manifest["config"]
    assert isinstance(config, dict)
    suffix = "-lambda" if spec.kind == "lambda" else ""
    return f"{repository}:{str(config['sha256'])[:12]}-{artifact.replace('_', '-')}{suffix}"


def build(
    export_dir: Path,
    spec: ImageSpec,
    repository: str,
    tag: str | None = None,
    platform: str = "linux/amd64",
    client: object | None = None,
    on_step: Callable[[str], None] = lambda _s: None,
    on_line: Callable[[str], None] | None = None,
) -> BuildResult:
    """Assemble the context, build, describe the image and record it next to the manifest."""
    started = time.perf_counter()
    manifest = read_json_object(export_dir / "manifest.json", "export manifest")
    on_step("assembling the build context (wheelhouse, nfldeploy wheel, model)")
    context = assemble(
        export_dir,
        manifest,
        spec,
        platform,
        export_dir.parent / "build-context" / f"{spec.kind}-{spec.runtime}",
    )
    reference = tag or default_tag(repository, manifest, spec, context.artifact)
    docker = client or connect()
    on_step(f"building {reference}")
    image_id, cached = build_image(
        docker, context.path, reference, None if platform == "linux/amd64" else platform, on_line
    )
    size, layers, labels = describe(docker, image_id)
    result = BuildResult(
        image_id=image_id,
        tag=reference,
        size_bytes=size,
        layers=layers,
        labels=labels,
        kind=spec.kind,
        runtime=spec.runtime,
        seconds=round(time.perf_counter() - started, 1),
        cached_steps=cached,
    )
    write_record(export_dir, result)
    return result
