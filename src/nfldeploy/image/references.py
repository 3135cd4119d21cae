"""Image references as text: splitting off the tag, re-homing under a registry, the default tags."""

from __future__ import annotations

from typing import Literal

from nfldeploy.records.build import BuildRecord
from nfldeploy.records.manifest import Manifest
from nfldeploy.settings import DeploySettings


def split_reference(reference: str) -> tuple[str, str]:
    """``host:5000/team/app:tag`` -> (``host:5000/team/app``, ``tag``); the tag defaults to latest."""
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, "latest"
    return name, tag


def names_registry(reference: str) -> bool:
    """Whether ``reference`` starts with a registry host (``host.domain/...``, ``host:port/...``)."""
    first, slash, _ = reference.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def target_reference(reference: str, registry: str | None) -> str:
    """The reference to push: ``reference`` itself, or re-homed under ``registry`` when it is not there yet."""
    if not registry or reference.startswith(registry.rstrip("/") + "/"):
        return reference
    name, tag = split_reference(reference)
    if names_registry(name):  # the reference already names another registry
        name = name.split("/", 1)[1]
    return f"{registry.rstrip('/')}/{name}:{tag}"


def default_tag(repository: str, manifest: Manifest, kind: Literal["server", "lambda"], artifact: str) -> str:
    """``repository:<config sha12>-<artifact>[-lambda]``: one tag per model and variant."""
    suffix = "-lambda" if kind == "lambda" else ""
    return f"{repository}:{manifest.short_sha}-{artifact.replace('_', '-')}{suffix}"


def rendered_images(
    settings: DeploySettings, manifest: Manifest, record: BuildRecord, image: str | None = None
) -> tuple[str, str]:
    """(server image, Lambda image) the rendered files name: the export's recorded builds, else their
    default tags, re-homed under the registry setting; ``image`` overrides the server image."""

    def reference(kind: Literal["server", "lambda"]) -> str:
        build = record.builds.get(f"{kind}-onnx")
        tag = build.tag if build else default_tag(settings.repository, manifest, kind, "onnx")
        return target_reference(tag, settings.registry)

    return image or reference("server"), reference("lambda")
