"""``nfldeploy up``: the main job in one call: export (unless current), build, run locally, smoke-test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfldeploy.config import load_training_config
from nfldeploy.errors import ConfigError, DockerUnavailable
from nfldeploy.export.checkpoint import resolve_checkpoint
from nfldeploy.export.layout import DEFAULT_OUT
from nfldeploy.extras import require
from nfldeploy.records.manifest import read_manifest_if_any, sha256_file
from nfldeploy.settings import DeploySettings
from nfldeploy.smoke.checks import CheckResult
from nfldeploy.smoke.report import record
from nfldeploy.smoke.run import SmokeReport, smoke_url

EXAMPLE_CONFIG = Path("examples/outputs/nfl_production_v2_config.json")


@dataclass
class UpResult:
    """Where the service is and how it was brought up."""

    url: str
    mode: str  # "container" or "process"
    where: str  # container name / pid and how to stop it
    exported: bool
    image: str | None
    report: SmokeReport
    notes: list[str] = field(default_factory=list)
    follow_ups: list[str] = field(
        default_factory=list
    )  # nfldeploy commands (without the program) to run next


def default_config() -> Path:
    """The shipped example's config (from the source checkout)."""
    from nfldeploy.own_wheel import project_root

    for base in (Path.cwd(), project_root()):
        if base is not None and (base / EXAMPLE_CONFIG).is_file():
            return base / EXAMPLE_CONFIG
    raise ConfigError(
        "no CONFIG given and the shipped example is not here", hint="Pass the training config JSON."
    )


def export_is_current(out: Path, config_sha: str, checkpoint_sha: str) -> bool:
    """An export exists for this exact config and checkpoint."""
    try:
        manifest = read_manifest_if_any(out)
    except ConfigError:  # unreadable or from another version: export again
        return False
    return manifest is not None and (manifest.config.sha256, manifest.checkpoint.sha256) == (
        config_sha,
        checkpoint_sha,
    )


def up(
    config_path: Path | None,
    settings: DeploySettings,
    port: int,
    out: Path = DEFAULT_OUT,
    checkpoint_path: Path | None = None,
    on_step: Callable[[str], None] = lambda _s: None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> UpResult:
    """Export, build, deploy to the local target, smoke-test. A failed smoke test leaves the previous revision
    serving (or nothing, the first time) and exits 3."""
    config_path = config_path or default_config()
    config = load_training_config(config_path)
    checkpoint = resolve_checkpoint(config, checkpoint_path)
    exported = False
    if export_is_current(out, config.sha256, sha256_file(checkpoint)):
        on_step(f"export in {out} is current (config {config.sha256[:12]}): skipped")
    else:
        require("export", f"exporting {config_path} (the export in {out} is not current)")
        from nfldeploy.export.pipeline import ExportOptions, run_export

        on_step("exporting")
        run_export(ExportOptions(config=config_path, checkpoint=checkpoint, out=out, on_step=on_step))
        exported = True
    try:
        from nfldeploy.image.engine import connect

        client = connect(timeout=30)
        client.images.get(settings.base_image)
    except DockerUnavailable as exc:
        return _in_process(out, port, exported, on_step, on_result, f"no Docker engine ({exc.message})")
    except Exception as exc:  # the base image is missing
        return _in_process(
            out, port, exported, on_step, on_result, f"base image {settings.base_image} missing ({exc})"
        )
    return _in_container(client, out, settings, port, exported, on_step, on_result)


def _in_container(
    client: Any,
    out: Path,
    settings: DeploySettings,
    port: int,
    exported: bool,
    on_step: Callable[[str], None],
    on_result: Callable[[CheckResult], None] | None,
) -> UpResult:
    from nfldeploy.image.pipeline import build
    from nfldeploy.image.run import remove
    from nfldeploy.render.dockerfile import ImageSpec
    from nfldeploy.targets.local import LocalTarget

    on_step("building the image")
    built = build(
        out,
        ImageSpec(base_image=settings.base_image, wheel=settings.nfldeploy_wheel),
        settings.repository,
        client=client,
        on_step=on_step,
    )
    target = LocalTarget(client, settings.service_name, port)
    plan = target.plan(settings, built.tag)
    on_step(
        "deploying to the local target" if not plan.empty else "the local target already serves this image"
    )
    deployment = target.apply(plan)
    on_step("smoke-testing")
    report = smoke_url(deployment.url, out, on_result=on_result)
    record(out, "local", report.url, report.results)
    if not report.passed and deployment.changed:
        if deployment.previous:
            target.rollback()  # the previous revision serves again
        else:
            for container in client.containers.list(
                all=True, ignore_removed=True, filters={"name": deployment.revision}
            ):
                remove(container)
    report.raise_for_failures()
    where = f"local target revision {deployment.revision} (stop: docker rm -f {deployment.revision})"
    follow_ups = [f"status --target local --port {port}", "logs --target local", "checklist --target local"]
    return UpResult(deployment.url, "container", where, exported, built.tag, report, follow_ups=follow_ups)


def _in_process(
    out: Path,
    port: int,
    exported: bool,
    on_step: Callable[[str], None],
    on_result: Callable[[CheckResult], None] | None,
    reason: str,
) -> UpResult:
    from nfldeploy.serve_process import ServeProcess

    require("serve", f"serving in process ({reason})")
    on_step(f"{reason}: serving in process with nfldeploy serve instead of a container")
    server = ServeProcess(out, port)
    pid = server.start()
    try:
        on_step("smoke-testing")
        report = smoke_url(server.url, out, on_result=on_result)
        record(out, "url", report.url, report.results)  # a service at a URL, as smoke-test --url
        report.raise_for_failures()
    except BaseException:
        server.stop()
        raise
    server.take_over()
    return UpResult(
        server.url,
        "process",
        f"process {pid} (logs: {server.log}, stop: kill {pid}; the next up replaces it)",
        exported,
        None,
        report,
        [f"served in process instead of a container: {reason}"],
    )
