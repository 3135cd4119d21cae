"""Options with a fixed set of values: Typer validates them (a bad value exits 2 with the allowed list)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum

import typer


class ImageRuntime(StrEnum):
    """What an image serves."""

    onnx = "onnx"
    torchscript = "torchscript"


class ServedArtifact(StrEnum):
    """Which artifact ``serve`` loads."""

    auto = "auto"
    onnx = "onnx"
    onnx_int8 = "onnx_int8"
    torchscript = "torchscript"
    torchscript_int8 = "torchscript_int8"


class ImageKind(StrEnum):
    """The server image or its Lambda variant."""

    server = "server"
    lambda_ = "lambda"


class LogLevel(StrEnum):
    """The least severe log level ``logs --level`` shows."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


class Quantize(StrEnum):
    """Whether export also writes INT8 variants."""

    int8 = "int8"
    none = "none"


class PushAuth(StrEnum):
    """Where push takes registry credentials from."""

    auto = "auto"
    ecr = "ecr"
    gcp = "gcp"
    env = "env"
    docker = "docker"


def comma_list(allowed: Sequence[str]) -> Callable[[str | None], str | None]:
    """A callback for a comma-separated option whose items must be among ``allowed`` (usage error, exit 2)."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        items = [item.strip() for item in value.split(",") if item.strip()]
        unknown = [item for item in items if item not in allowed]
        if unknown or not items:
            raise typer.BadParameter(f"{', '.join(unknown) or '(nothing)'} not among: {', '.join(allowed)}")
        return ",".join(items)

    return check
