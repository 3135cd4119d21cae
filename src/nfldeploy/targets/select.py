"""Which target a command means, built with its client from the standard credential chains, and the image
it deploys by default (from the build record)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from nfldeploy.errors import ConfigError
from nfldeploy.records.build import read_build_record
from nfldeploy.records.manifest import read_manifest_if_any
from nfldeploy.settings import DeploySettings
from nfldeploy.targets.base import Status, Target


class TargetName(StrEnum):
    """The places a service can be deployed to."""

    local = "local"
    cloudrun = "cloudrun"
    lambda_ = "lambda"
    kubernetes = "kubernetes"


def default_image(
    name: TargetName, export_dir: Path, settings: DeploySettings, *, allow_unpushed: bool = False
) -> str:
    """The image a target deploys when --image is not given: the last build of the kind it runs, pushed
    (by digest) for the cloud targets; its local tag when ``allow_unpushed`` (a dry run shows what it would
    apply) and it was not pushed yet."""
    kind = "lambda" if name is TargetName.lambda_ else "server"
    build = read_build_record(export_dir).of_kind(kind)
    if build is None:
        raise ConfigError(
            f"no --image given and no {kind} build recorded in {export_dir}",
            hint=f"Run nfldeploy build{' --kind lambda' if kind == 'lambda' else ''}, or pass --image.",
        )
    if name in (TargetName.local, TargetName.lambda_):  # lambda pushes to ECR itself
        return build.tag
    pushed = build.pushed_reference
    if pushed is None and allow_unpushed:
        return build.tag
    if pushed is None:
        raise ConfigError(
            f"{build.tag} was not pushed; {name} pulls from a registry",
            hint="Run nfldeploy push (the registry setting names where), or pass --image.",
        )
    return pushed


def make_target(
    name: TargetName,
    settings: DeploySettings,
    *,
    export_dir: Path,
    port: int = 8080,
    verify: Callable[[str], None] | None = None,
    wait: bool = True,
    out: Path = Path("outputs/deploy"),
) -> Target:
    """The target ``name`` for ``settings``; clients come from the standard credential chains."""
    if name is TargetName.local:
        from nfldeploy.image.engine import connect
        from nfldeploy.targets.local import LocalTarget

        return LocalTarget(connect(), settings.service_name, port)
    if name is TargetName.cloudrun:
        from nfldeploy.cloud.call_limits import CallLimits
        from nfldeploy.cloud.gcp import CloudRunLogs, services_client
        from nfldeploy.targets.cloudrun import CloudRunTarget

        return CloudRunTarget(
            services_client() if settings.project else None,  # a missing project is reported first
            settings.project,
            settings.region,
            settings.service_name,
            manifest=read_manifest_if_any(export_dir),
            verify=verify,
            wait=wait,
            log_store=CloudRunLogs(settings.project, settings.service_name) if settings.project else None,
            limits=CallLimits.of(settings),
        )
    if name is TargetName.lambda_:
        from nfldeploy.cloud.aws import aws_clients
        from nfldeploy.cloud.call_limits import CallLimits
        from nfldeploy.targets.aws_lambda import LambdaTarget

        return LambdaTarget(
            aws_clients(settings.aws_region, CallLimits.of(settings)),
            settings.service_name,
            settings.aws_region,
            wait=wait,
            verify=verify,
            endpoint=settings.lambda_endpoint,
            keep_versions=settings.lambda_keep_versions,
        )
    from nfldeploy.targets.kubernetes import KubernetesTarget

    return KubernetesTarget(read_manifest_if_any(export_dir), out, settings.service_name, wait=wait)


@dataclass(frozen=True)
class Endpoint:
    """Where to reach what a target serves: its URL, whether that is a canary's own URL, and a note for
    the user (e.g. that no canary is in flight and the serving revision is tested instead)."""

    url: str
    canary: bool = False
    note: str | None = None


def endpoint_of(status: Status, canary: bool = False) -> Endpoint:
    """The URL to test from a target's status: the service's, or with ``canary`` the canary's own URL (the
    service's when the newest deploy took all traffic at once, as the first one does). A ConfigError when
    nothing serves or no canary is in flight."""
    where = f"{status.service} on the {status.target} target"
    if canary and status.canary_url:
        return Endpoint(status.canary_url, canary=True)
    note = None
    if canary and status.url and list(status.traffic.values()) == [100]:
        note = f"no canary in flight: {status.serving} serves all traffic; testing it"
    elif canary:
        raise ConfigError(
            f"{where} has no canary",
            hint=f"Deploy one with nfldeploy deploy --target {status.target} --canary PCT.",
        )
    if not status.url:
        raise ConfigError(f"nothing serves {where}", hint=f"Run nfldeploy deploy --target {status.target}.")
    return Endpoint(status.url, note=note)
