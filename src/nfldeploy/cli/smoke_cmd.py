"""``nfldeploy smoke-test``: prove a running endpoint serves the exported model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nfldeploy.cli.common import (
    EXPORT_DIR_OPTION,
    JSON_OPTION,
    MANIFEST_OPTION,
    SETTINGS_OPTION,
    check_url,
    export_dir_of,
)
from nfldeploy.cli.output import check_mark, print_json, stderr, stdout
from nfldeploy.errors import ConfigError, UsageError
from nfldeploy.smoke.checks import CheckResult
from nfldeploy.targets.select import TargetName


def smoke_test(
    url: str | None = typer.Option(None, "--url", help="Base URL of a running service."),
    image: str | None = typer.Option(
        None, "--image", help="An image to start on a free port, test, then remove."
    ),
    target: TargetName | None = typer.Option(
        None, "--target", help="A deploy target's serving URL: local, cloudrun, lambda, kubernetes."
    ),
    platform: TargetName | None = typer.Option(
        None,
        "--platform",
        help="With --url: the deploy target serving it (local, cloudrun, lambda, kubernetes); on lambda the "
        "rate-limiting row is skipped (each execution environment keeps its own buckets). --target says it "
        "itself.",
    ),
    port: int = typer.Option(8080, "--port", help="With --target local: the service's host port."),
    canary: bool = typer.Option(
        False,
        "--canary",
        help="With --target cloudrun|lambda: test the canary through its own URL (Cloud Run's tag URL, "
        "Lambda's canary alias) instead of the weighted service URL.",
    ),
    export_dir: Path = EXPORT_DIR_OPTION,
    manifest: Path | None = MANIFEST_OPTION,
    token: str | None = typer.Option(
        None, "--token", envvar="NFLDEPLOY_SMOKE_TOKEN", help="Bearer token; expects auth (401 without it)."
    ),
    junit: Path | None = typer.Option(None, "--junit", help="Write a JUnit XML report here (for CI)."),
    requests: int = typer.Option(50, "--requests", min=1, help="Requests for the latency check."),
    p95_budget_ms: float = typer.Option(
        250.0, "--p95-budget-ms", help="The latency check fails above this p95."
    ),
    ready_timeout: float = typer.Option(60.0, "--ready-timeout", help="Seconds to wait for /ready."),
    settings_file: Path | None = SETTINGS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check /health and /ready, that /version is the exported model, the golden requests' outputs, the
    response schema, positions on the field, /predict_batch, 4xx for bad inputs, auth (with --token),
    /metrics, latency and, last, rate limiting (a 429 from the service's own limiter; skipped on Lambda, whose
    execution environments each keep their own buckets). Exit 0 when every check passes or is skipped, 3
    otherwise (the failed rows are named)."""
    from nfldeploy.smoke.report import as_json as report_json
    from nfldeploy.smoke.report import record, write_junit
    from nfldeploy.smoke.run import smoke_image, smoke_url

    if sum(x is not None for x in (url, image, target)) != 1:
        raise UsageError("give exactly one of --url, --image and --target")
    if platform is not None and url is None:
        raise UsageError("--platform goes with --url (--target names its platform itself)")
    export_dir = export_dir_of(export_dir, manifest)
    if not (export_dir / "manifest.json").is_file():
        raise ConfigError(
            f"no export manifest at {export_dir}",
            hint="Pass --export-dir EXPORT_DIR (the output of nfldeploy export).",
        )
    if canary and target not in ("cloudrun", "lambda"):
        raise UsageError("--canary needs --target cloudrun or --target lambda")
    auth = None
    if target is not None:
        from nfldeploy.settings import load_settings
        from nfldeploy.smoke.sigv4 import endpoint_auth
        from nfldeploy.targets.select import endpoint_of, make_target

        settings = load_settings(settings_file=settings_file).settings
        endpoint = endpoint_of(
            make_target(target, settings, export_dir=export_dir, port=port).status(), canary
        )
        if endpoint.note:
            stderr().print(endpoint.note, highlight=False, markup=False)
        url = endpoint.url
        auth = endpoint_auth(target, settings, endpoint.canary)
    url = check_url(url) if url is not None else None
    console = stderr()

    def on_result(result: CheckResult) -> None:
        mark = check_mark(result.passed, result.skipped)
        console.print(f"{mark} {result.name}: {result.detail}", highlight=False)

    def on_logs(text: str) -> None:
        console.print("[yellow]container's last log lines:[/]")
        console.print(text, markup=False, highlight=False)

    if image is not None:
        from nfldeploy.image.engine import connect

        report = smoke_image(
            connect(), image, export_dir, token, requests, p95_budget_ms, ready_timeout, on_result, on_logs
        )
    else:
        assert url is not None
        served = target or platform
        served_by = served.value if served is not None else None
        report = smoke_url(
            url, export_dir, token, requests, p95_budget_ms, ready_timeout, on_result, auth, served_by
        )
    record(export_dir, target.value if target else ("image" if image else "url"), report.url, report.results)
    if junit:
        write_junit(junit, report.url, report.results)
    if as_json:
        print_json(report_json(report.url, report.results, report.extra))
    else:
        table = Table(title=f"smoke test of {report.url}", title_justify="left")
        for column in ("check", "result", "detail"):
            table.add_column(column)
        for result in report.results:
            table.add_row(result.name, check_mark(result.passed, result.skipped), result.detail)
        stdout().print(table)
    report.raise_for_failures()
