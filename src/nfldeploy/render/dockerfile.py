"""The view model of the Dockerfile: every value the template prints, computed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from nfldeploy import __version__
from nfldeploy.errors import ConfigError
from nfldeploy.records.manifest import Manifest
from nfldeploy.render.environment import render_template

Kind = Literal["server", "lambda"]
Runtime = Literal["onnx", "torchscript"]
MODEL_DIR = "/app/model"
APP_UID = 10001


@dataclass(frozen=True)
class ImageSpec:
    """What image to build: server or Lambda variant, which runtime, on which base."""

    kind: Kind = "server"
    runtime: Runtime = "onnx"
    base_image: str = "python:3.11-slim"
    port: int = 8080
    wheel: str | None = None  # the nfldeploy wheel to install (the nfldeploy_wheel setting); None: our own


def served_artifact(manifest: Manifest, runtime: Runtime) -> str:
    """The artifact the image serves: the manifest's default for onnx, the FP32 TorchScript for torchscript."""
    artifacts = manifest.artifacts
    name = manifest.serving_default if runtime == "onnx" else "torchscript"
    if runtime == "onnx" and (name not in artifacts or artifacts[name].format != "onnx"):
        name = "onnx"
    if name not in artifacts:
        raise ConfigError(
            f"the export has no {runtime} artifact (it has {', '.join(artifacts)})",
            hint=f"Re-export with --formats including {runtime}.",
        )
    return name


def image_labels(
    manifest: Manifest, spec: ImageSpec, artifact: str, git_commit: str | None, source: str | None
) -> list[tuple[str, str]]:
    """OCI labels plus the lineage: which run, config, checkpoint and model this image serves."""
    labels = {
        "org.opencontainers.image.title": f"{manifest.experiment_name} ({spec.kind}, {artifact})",
        "org.opencontainers.image.description": "NFL player-trajectory inference API built by nfldeploy",
        "org.opencontainers.image.version": f"{manifest.experiment_name}-{manifest.short_sha}",
        "org.opencontainers.image.base.name": spec.base_image,
        "io.nfldeploy.version": __version__,
        "io.nfldeploy.kind": spec.kind,
        "io.nfldeploy.runtime": spec.runtime,
        "io.nfldeploy.artifact": artifact,
        "io.nfldeploy.experiment": manifest.experiment_name,
        "io.nfldeploy.config-sha256": manifest.config.sha256,
        "io.nfldeploy.checkpoint-sha256": manifest.checkpoint.sha256,
        "io.nfldeploy.model-sha256": manifest.artifacts[artifact].sha256,
    }
    if git_commit:
        labels["org.opencontainers.image.revision"] = git_commit
    if source:
        labels["org.opencontainers.image.source"] = source
    return sorted(labels.items())


def dockerfile_view(
    manifest: Manifest,
    spec: ImageSpec,
    project_wheel: str,
    git_commit: str | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Everything the Dockerfile template prints."""
    artifact = served_artifact(manifest, spec.runtime)
    return {
        "nfldeploy_version": __version__,
        "kind": spec.kind,
        "experiment_name": manifest.experiment_name,
        "runtime_artifact": artifact,
        "base_image": spec.base_image,
        "project_wheel": project_wheel,
        "uid": APP_UID,
        "model_dir": MODEL_DIR,
        "port": spec.port,
        "labels": image_labels(manifest, spec, artifact, git_commit, source),
    }


def render_dockerfile(view: dict[str, Any]) -> str:
    """The Dockerfile for the view's kind."""
    return render_template(f"docker/{view['kind']}.Dockerfile.j2", view)


def render_dockerignore() -> str:
    """The .dockerignore of a build context."""
    return render_template("docker/dockerignore.j2", {})
