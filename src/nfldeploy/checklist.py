"""The deployment guide's checklist, each item with its evidence and where it came from.

Evidence is what nfldeploy already recorded: the export manifest, the build record, the smoke tests, bench
runs and log reads kept in the export's ``reports/`` (``records/runs.py``), the settings with their sources,
the rendered workflow, and the target's status. An item without evidence is "missing" and names the
command that produces it; ``checklist_required`` says which items a release needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from nfldeploy.errors import ConfigError, NfldeployError
from nfldeploy.records.build import read_build_record
from nfldeploy.records.manifest import MANIFEST_NAME, Manifest, read_manifest_if_any, sha256_file
from nfldeploy.records.runs import SmokeRun, read_bench, read_logs, read_smoke
from nfldeploy.settings import ResolvedSettings
from nfldeploy.targets.base import Status
from nfldeploy.targets.select import TargetName

ITEMS = {
    "model_exported": "Model exported",
    "api_tested": "API tested locally",
    "image_built": "Image built and tested",
    "environment": "Environment configured",
    "monitoring": "Monitoring",
    "logging": "Logging",
    "rate_limiting": "Rate limiting",
    "authentication": "Authentication",
    "load_testing": "Load testing",
    "ci_cd": "CI/CD",
    "rollback_plan": "Rollback plan",
}
WORKFLOWS = (Path(".github/workflows/nfldeploy.yml"), Path("outputs/deploy/github/workflows/nfldeploy.yml"))


@dataclass(frozen=True)
class Item:
    """One row: ``ok`` with its evidence and source, or ``missing`` with the command that produces it."""

    key: str
    title: str
    ok: bool
    evidence: str
    source: str
    required: bool
    fix: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {**asdict(self), "state": "ok" if self.ok else "missing"}


@dataclass(frozen=True)
class Inputs:
    """What the checklist looks at."""

    export_dir: Path
    settings: ResolvedSettings
    target: str | None  # None: the deploy-side items (environment, rollback) are about no target
    status: Status | None  # the target's status; None when unavailable
    status_error: str | None = None  # why it is unavailable


def required_items(value: str) -> set[str]:
    """The items the ``checklist_required`` setting names (a ConfigError for an unknown one)."""
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(names - set(ITEMS))
    if unknown:
        raise ConfigError(
            f"checklist_required names unknown items: {', '.join(unknown)}",
            hint=f"The items: {', '.join(ITEMS)}.",
        )
    return names


def build_checklist(inputs: Inputs) -> list[Item]:
    """Every item of the checklist, in the guide's order."""
    required = required_items(inputs.settings.settings.checklist_required)
    try:
        manifest = read_manifest_if_any(inputs.export_dir)
    except ConfigError:  # unreadable: the model_exported row says why
        manifest = None
    smokes = {where: read_smoke(inputs.export_dir, where) for where in ("local", "url", "image")}
    if inputs.target:
        smokes[inputs.target] = read_smoke(inputs.export_dir, inputs.target)
    rows: list[Item] = []
    for key, check in CHECKS.items():
        found = check(inputs, manifest, {k: v for k, v in smokes.items() if v is not None})
        ok, evidence, source, fix = found
        rows.append(Item(key, ITEMS[key], ok, evidence, source, key in required, None if ok else fix))
    return rows


Found = tuple[bool, str, str, str]  # ok, evidence (or why missing), source, the command that fixes it
Check = Callable[[Inputs, Manifest | None, dict[str, SmokeRun]], Found]


def _reports(inputs: Inputs, name: str) -> str:
    return str(inputs.export_dir / "reports" / f"{name}.json")


def _model_exported(inputs: Inputs, manifest: Manifest | None, _: dict[str, SmokeRun]) -> Found:
    path = inputs.export_dir / MANIFEST_NAME
    if manifest is None:
        why = f"no export manifest in {inputs.export_dir}"
        if path.is_file():
            try:
                read_manifest_if_any(inputs.export_dir)
            except ConfigError as exc:
                why = exc.message
        return False, why, str(path), "nfldeploy export CONFIG"
    artifact = manifest.artifacts[manifest.serving_default]
    parity = manifest.parity.get(manifest.serving_default)
    gate = f", parity {parity.max_abs_error:.2g} yd" if parity is not None else ""
    digest = sha256_file(path)[:12]
    evidence = (
        f"{manifest.experiment_name}: {manifest.serving_default} {artifact.precision}{gate}, "
        f"config {manifest.short_sha}, manifest sha {digest}"
    )
    return True, evidence, str(path), ""


def _passed_smoke(smokes: dict[str, SmokeRun], places: tuple[str, ...]) -> SmokeRun | None:
    passed = [smokes[p] for p in places if p in smokes and smokes[p].passed]
    return max(passed, key=lambda run: run.at) if passed else None


def _summary(run: SmokeRun) -> str:
    skipped = sum(check.skipped for check in run.checks)
    counted = f"{len(run.checks) - skipped} checks passed" + (f" ({skipped} skipped)" if skipped else "")
    return f"{counted} against {run.url} at {run.at}"


def _api_tested(inputs: Inputs, _: Manifest | None, smokes: dict[str, SmokeRun]) -> Found:
    run = _passed_smoke(smokes, ("local", "url", "image"))
    if run is None:
        failed = [f"{where} failed" for where, s in smokes.items() if where in ("local", "url", "image")]
        why = "; ".join(failed) or "no smoke test recorded for this export"
        return False, why, _reports(inputs, "smoke-local"), "nfldeploy up (or nfldeploy smoke-test --url URL)"
    return True, _summary(run), _reports(inputs, f"smoke-{run.where}"), ""


def _image_built(inputs: Inputs, _: Manifest | None, smokes: dict[str, SmokeRun]) -> Found:
    source = str(inputs.export_dir / "build-record.json")
    build = read_build_record(inputs.export_dir).of_kind("server")
    if build is None:
        return False, "no image built from this export", source, "nfldeploy build"
    pushed = f", pushed as {build.pushed_reference}" if build.pushed_reference else ""
    tested = _passed_smoke(smokes, tuple(where for where in smokes if where != "url"))  # an image ran there
    if tested is None:
        return (
            False,
            f"{build.tag} built but never smoke-tested",
            source,
            f"nfldeploy smoke-test --image {build.tag}",
        )
    evidence = f"{build.tag} ({build.image_id[7:19]}, {build.size_bytes / 1e6:.0f} MB{pushed}); smoke test passed at {tested.at}"
    return True, evidence, source, ""


def _environment(inputs: Inputs, _: Manifest | None, __: dict[str, SmokeRun]) -> Found:
    settings, sources = inputs.settings.settings, inputs.settings.sources
    names = {"cloudrun": ("project", "region"), "lambda": ("aws_region", "repository")}.get(
        inputs.target or "", ()
    )
    shown = ("service_name", *names)
    missing = [name for name in shown if getattr(settings, name) in (None, "")]
    described = ", ".join(
        f"{name} {getattr(settings, name)} ({sources.get(name, 'default')})" for name in shown
    )
    if missing:
        return False, f"{', '.join(missing)} not set", "settings", f"nfldeploy config show; set {missing[0]}"
    return True, described, "settings (nfldeploy config show)", ""


def _monitoring(inputs: Inputs, _: Manifest | None, smokes: dict[str, SmokeRun]) -> Found:
    for run in sorted(smokes.values(), key=lambda r: r.at, reverse=True):
        check = run.check("metrics")
        if check is not None and check.passed and not check.skipped:
            return (
                True,
                f"/metrics: {check.detail} (smoke test of {run.url}, {run.at})",
                _reports(inputs, f"smoke-{run.where}"),
                "",
            )
    return (
        False,
        "no smoke test has checked /metrics",
        _reports(inputs, "smoke-local"),
        "nfldeploy smoke-test --url URL",
    )


def _logging(inputs: Inputs, _: Manifest | None, __: dict[str, SmokeRun]) -> Found:
    target = inputs.target or "local"
    read = read_logs(inputs.export_dir, target)
    if read is None or not read.access_lines:
        why = "no access lines read yet" if read else f"the {target} logs were never read"
        return False, why, _reports(inputs, f"logs-{target}"), f"nfldeploy logs --target {target}"
    evidence = (
        f"{read.access_lines} JSON access lines with {read.request_ids} request ids "
        f"among {read.lines} lines from the {target} log store at {read.at}"
    )
    return True, evidence, _reports(inputs, f"logs-{target}"), ""


def _rate_limiting(inputs: Inputs, _: Manifest | None, smokes: dict[str, SmokeRun]) -> Found:
    settings = inputs.settings.settings
    limit = f"{settings.rate_limit_rps:g} requests/s per key or client, burst {settings.rate_limit_burst}"
    if inputs.target == "lambda" and settings.lambda_endpoint == "api_gateway":
        limit += "; the HTTP API's stage throttles at the same rate"
    for run in sorted(smokes.values(), key=lambda r: r.at, reverse=True):
        check = run.check("rate limiting")
        if check is not None and check.passed and not check.skipped:
            evidence = f"{limit}: {check.detail} (smoke test of {run.url}, {run.at})"
            return True, evidence, _reports(inputs, f"smoke-{run.where}"), ""
    return (
        False,
        f"{limit}, but no smoke test has seen a 429",
        _reports(inputs, "smoke-local"),
        "nfldeploy smoke-test --url URL (it provokes a 429 last)",
    )


def _authentication(inputs: Inputs, _: Manifest | None, smokes: dict[str, SmokeRun]) -> Found:
    settings = inputs.settings.settings
    for run in sorted(smokes.values(), key=lambda r: r.at, reverse=True):
        check = run.check("auth")
        if check is not None and check.passed and not check.skipped:
            keys = f"API keys from {settings.api_keys_secret}; " if settings.api_keys_secret else ""
            return (
                True,
                f"{keys}{check.detail} (smoke test of {run.url}, {run.at})",
                _reports(inputs, f"smoke-{run.where}"),
                "",
            )
    if (
        inputs.target == "lambda"
        and settings.function_url_auth == "AWS_IAM"
        and settings.lambda_endpoint == "function_url"
    ):
        return True, "function URL auth AWS_IAM: callers sign with SigV4", "settings function_url_auth", ""
    if inputs.target == "cloudrun" and not settings.allow_unauthenticated and not settings.auth:
        return (
            True,
            "Cloud Run IAM: only principals with run.invoker may call",
            "settings allow_unauthenticated",
            "",
        )
    why = (
        "no smoke test has checked auth"
        if settings.auth
        else "auth is off and no platform IAM guards the service"
    )
    return (
        False,
        why,
        "settings auth / api_keys_secret",
        "set auth = true and api_keys_secret, then nfldeploy smoke-test --token TOKEN",
    )


def _load_testing(inputs: Inputs, _: Manifest | None, __: dict[str, SmokeRun]) -> Found:
    run = read_bench(inputs.export_dir)
    if run is None or not run.levels:
        return (
            False,
            "no bench recorded for this export",
            _reports(inputs, "bench"),
            "nfldeploy bench --url URL",
        )
    top = max(run.levels, key=lambda level: level.concurrency)
    errors = sum(sum(level.errors.values()) for level in run.levels)
    budget = inputs.settings.settings.smoke_p95_budget_ms
    evidence = (
        f"bench at c{top.concurrency}: p95 {top.p95_ms:.0f} ms (budget {budget:g}), "
        f"{top.throughput_rps:.0f} req/s, {errors} errors ({run.url}, {run.at})"
    )
    if errors or top.p95_ms > budget:  # a bench that went badly is no evidence of readiness
        why = f"{errors} errors" if errors else f"p95 {top.p95_ms:.0f} ms over the {budget:g} ms budget"
        fix = "fix the errors or the capacity, then nfldeploy bench again (smoke_p95_budget_ms is the budget)"
        return False, f"{evidence}: {why}", _reports(inputs, "bench"), fix
    return True, evidence, _reports(inputs, "bench"), ""


def _ci_cd(inputs: Inputs, _: Manifest | None, __: dict[str, SmokeRun]) -> Found:
    for path in WORKFLOWS:
        if path.is_file():
            digest = sha256_file(path)[:12]
            return True, f"the rendered workflow {path} (sha {digest})", str(path), ""
    return False, "no rendered workflow here", str(WORKFLOWS[0]), "nfldeploy render --only github"


def _rollback_plan(inputs: Inputs, _: Manifest | None, __: dict[str, SmokeRun]) -> Found:
    fix = (
        f"nfldeploy deploy --target {inputs.target or 'local'} with a new image or settings "
        "(the serving revision stays for rollback)"
    )
    if inputs.target is None:
        return False, "no target given", "nfldeploy checklist --target T", fix
    status = inputs.status
    if status is None:
        return (
            False,
            f"the {inputs.target} status is unavailable: {inputs.status_error}",
            f"nfldeploy status --target {inputs.target}",
            fix,
        )
    kept = status.previous or next(
        (
            rev.name
            for rev in reversed(status.revisions)
            if rev.name != status.serving and rev.state not in ("failed",)
        ),
        None,
    )
    if status.serving is None:
        return (
            False,
            f"nothing serves {status.service} on {status.target}",
            f"nfldeploy status --target {inputs.target}",
            fix,
        )
    if kept is None:
        return (
            False,
            f"only {status.serving} exists: nothing to roll back to",
            f"nfldeploy status --target {inputs.target}",
            fix,
        )
    evidence = f"{status.serving} serves; previous revision {kept} kept (nfldeploy rollback --target {inputs.target})"
    return True, evidence, f"nfldeploy status --target {inputs.target}", ""


CHECKS: dict[str, Check] = {
    "model_exported": _model_exported,
    "api_tested": _api_tested,
    "image_built": _image_built,
    "environment": _environment,
    "monitoring": _monitoring,
    "logging": _logging,
    "rate_limiting": _rate_limiting,
    "authentication": _authentication,
    "load_testing": _load_testing,
    "ci_cd": _ci_cd,
    "rollback_plan": _rollback_plan,
}


def gather(
    export_dir: Path, resolved: ResolvedSettings, target: TargetName | None, port: int = 8080
) -> Inputs:
    """The checklist's inputs, with the target's status when a target is given. A status that cannot be read
    (no credentials, an API that refuses) is a gap in the checklist, not a failure."""
    if target is None:
        return Inputs(export_dir, resolved, None, None, "no target given")
    from nfldeploy.targets.select import make_target

    try:
        status = make_target(target, resolved.settings, export_dir=export_dir, port=port).status()
    except NfldeployError as exc:
        return Inputs(export_dir, resolved, target.value, None, exc.message)
    return Inputs(export_dir, resolved, target.value, status, None)
