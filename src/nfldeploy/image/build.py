"""Building images with the Docker SDK (classic builder) and reading back what was built."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nfldeploy.errors import BuildError


def build_image(
    client: Any,
    context: Path,
    tag: str,
    platform: str | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """Build ``context`` as ``tag``; returns (image id, steps served from cache). The daemon's error text
    becomes a BuildError; intermediate containers are removed even when the build fails."""
    from docker.errors import APIError, DockerException

    image_id = ""
    cached = 0
    step = ""
    kwargs: dict[str, Any] = {
        "path": str(context),
        "tag": tag,
        "rm": True,
        "forcerm": True,
        "decode": True,
        "pull": False,
    }
    if platform:
        kwargs["platform"] = platform
    try:
        for event in client.api.build(**kwargs):
            if "error" in event:
                detail = (event.get("errorDetail", {}).get("message") or event["error"]).strip()
                where = f" at {step}" if step else ""
                hint = "That is the daemon's message."
                if step.split(" : ", 1)[-1].startswith("FROM"):
                    hint = "The base image must exist locally or be pullable: set base_image, or run scripts/test-services."
                raise BuildError(f"docker build failed{where}: {detail}", hint=hint)
            text = event.get("stream", "")
            if text.startswith("Step "):
                step = text.strip()
            if text.strip():
                cached += text.strip() == "---> Using cache"
                if on_line:
                    on_line(text.rstrip("\n"))
            aux = event.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = aux["ID"]
    except (APIError, DockerException) as exc:
        message = getattr(exc, "explanation", None) or str(exc)
        raise BuildError(f"docker build failed: {message}") from exc
    if not image_id:
        raise BuildError("docker build ended without an image id")
    return image_id, cached


def describe(client: Any, image_id: str) -> tuple[int, int, dict[str, str]]:
    """Size, layer count and labels of an image."""
    image = client.images.get(image_id)
    attrs = image.attrs
    layers = len(attrs.get("RootFS", {}).get("Layers", []))
    return int(attrs.get("Size", 0)), layers, dict(attrs.get("Config", {}).get("Labels") or {})
