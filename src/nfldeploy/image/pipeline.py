"""``nfldeploy build`` as a library call: context -> image -> build record."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from nfldeploy.image.build import build_image, describe
from nfldeploy.image.context import assemble
from nfldeploy.image.engine import connect
from nfldeploy.image.references import default_tag
from nfldeploy.records.build import Build, read_build_record, write_build_record
from nfldeploy.records.manifest import read_manifest
from nfldeploy.render.dockerfile import ImageSpec


def build(
    export_dir: Path,
    spec: ImageSpec,
    repository: str,
    tag: str | None = None,
    platform: str = "linux/amd64",
    client: object | None = None,
    on_step: Callable[[str], None] = lambda _s: None,
    on_line: Callable[[str], None] | None = None,
) -> Build:
    """Assemble the context, build, describe the image and record it next to the manifest."""
    started = time.perf_counter()
    manifest = read_manifest(export_dir)
    record = read_build_record(export_dir)  # an unreadable record stops the build before it starts
    on_step("assembling the build context (wheelhouse, nfldeploy wheel, model)")
    context = assemble(
        export_dir,
        manifest,
        spec,
        platform,
        export_dir.parent / "build-context" / f"{spec.kind}-{spec.runtime}",
    )
    reference = tag or default_tag(repository, manifest, spec.kind, context.artifact)
    docker = client or connect()
    on_step(f"building {reference}")
    image_id, cached = build_image(
        docker, context.path, reference, None if platform == "linux/amd64" else platform, on_line
    )
    size, layers, labels = describe(docker, image_id)
    result = Build(
        image_id=image_id,
        tag=reference,
        size_bytes=size,
        layers=layers,
        labels=labels,
        kind=spec.kind,
        runtime=spec.runtime,
        seconds=round(time.perf_counter() - started, 1),
        cached_steps=cached,
        built_at=time.time(),
    )
    write_build_record(export_dir, record.with_build(result))
    return result
