"""Which target a command means, built with its client from the standard credential chains, and the image
it deploys by default (from the build record)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings


class TargetName(StrEnum):
    """The places a service can be deployed to."""

    local = "local"
    cloudrun = "cloudrun"
    lambda_ = "lambda"
    kubernetes = "kubernetes"


def _build(export_dir: Path, kind: str) -> dict[str, Any]:
    from nfldeploy.image.build import read_record

    builds = read_record(export_dir).get("builds", {})
    found = [entry for key, entry in builds.items() if key.startswith(f"{kind}-")]
    preferred = builds.get(f"{kind}-onnx")
    return dict(preferred or (found[0] if found else {}))


def default_image(
    name: TargetName, export_dir: Path, settings: DeploySettings, *, allow_unpushed: bool = False
) -> str:
    """The image a target deploys when --image is not given: the last build of the kind it runs, pushed
    (by digest) for the cloud targets; its local tag when ``allow_unpushed`` (a dry run shows what it would
    apply) and it was not pushed yet."""
    kind = "lambda" if name is TargetName.lambda_ else "server"
    build = _build(export_dir, kind)
    if not build:
        raise ConfigError(
            f"no --image given and no {kind} build recorded in {export_dir}",
            hint=f"Run nfldeploy build{' --kind lambda' if kind == 'lambda' else ''}, or pass --image.",
        )
    if name in (TargetName.local, TargetName.lambda_):  # lambda pushes to ECR itself
        return str(build["tag"])
    pushed = build.get("pushed") or {}
    if not pushed and allow_unpushed:
        return str(build["tag"])
    if not pushed:
        raise ConfigError(
            f"{build['tag']} was not pushed; {name} pulls from a registry",
            hint="Run nfldeploy push (the registry setting names where), or pass --image.",
        )
    reference, digest = next(reversed(list(pushed.items())))
    return f"{reference.rsplit(':', 1)[0]}@{digest}"


def export_manifest(export_dir: Path) -> dict[str, Any] | None:
    """The export's manifest when there is one (status and rollback work without it)."""
    from nfldeploy.jsonfile import read_json_object

    path = export_dir / "manifest.json"
    return read_json_object(path, "export manifest") if path.is_file() else None


def make_target(
    name: TargetName,
    settings: DeploySettings,
    *,
    export_dir: Path,
    port: int = 8080,
    verify: Callable[[str], None] | None = None,
    wait: bool = True,
    out: Path = Path("outputs/deploy"),
) -> Any:
    """The target ``name`` for ``settings``; clients come from the standard credential chains."""
    if name is TargetName.local:
        from nfldeploy.image.engine import connect
        from nfldeploy.targets.local import LocalTarget

        return LocalTarget(connect(), settings.service_name, port)
    if name is TargetName.cloudrun:
        from nfldeploy.targets.cloudrun import CloudRunTarget, services_client

        return CloudRunTarget(
            services_client() if settings.project else None,  # a missing project is reported first
            settings.project,
            settings.region,
            settings.service_name,
            manifest=export_manifest(export_dir),
            verify=verify,
            wait=wait,
        )
    if name is TargetName.lambda_:
        from nfldeploy.targets.aws_lambda import LambdaTarget, aws_clients

        return LambdaTarget(
            aws_clients(settings.aws_region),
            settings.service_name,
            settings.aws_region,
            wait=wait,
            verify=verify,
            endpoint=settings.lambda_endpoint,
        )
    from nfldeploy.jsonfile import read_json_object
    from nfldeploy.targets.kubernetes import KubernetesTarget

    manifest = read_json_object(export_dir / "manifest.json", "export manifest")
    return KubernetesTarget(manifest, out, settings.service_name, wait=wait)
