"""Deploy settings: ``nfldeploy.toml`` (or ``[tool.nfldeploy]`` in pyproject.toml), ``NFLDEPLOY_*``
environment variables and CLI flags, in the precedence flag > env > file > default.

Every resolved value knows where it came from, so ``nfldeploy config show`` can say so.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nfldeploy.errors import ConfigError

ENV_PREFIX = "NFLDEPLOY_"
#: Old setting names, accepted for one release with a warning: the new name, or None when the setting is gone.
RENAMED: dict[str, str | None] = {"architecture": "lambda_architecture", "runtime": None}
SETTINGS_FILE = "nfldeploy.toml"
#: The retention periods CloudWatch Logs accepts (PutRetentionPolicy's "Possible values", botocore's logs
#: model, shape Days: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
#: Cloud Run's ingress settings, as the Admin API v2 names them (Service.ingress, enum IngressTraffic in the
#: run v2 discovery document, googleapiclient/discovery_cache/documents/run.v2.json; what each admits:
#: https://cloud.google.com/run/docs/securing/ingress). INGRESS_TRAFFIC_NONE is left out: it serves nobody.
INGRESS_ALL = "INGRESS_TRAFFIC_ALL"
INGRESS_INTERNAL_ONLY = "INGRESS_TRAFFIC_INTERNAL_ONLY"
INGRESS_LOAD_BALANCER = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
Ingress = Literal[
    "INGRESS_TRAFFIC_ALL", "INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
]
LOG_RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)


def env_name(setting: str) -> str:
    """The environment variable of a setting: NFLDEPLOY_<NAME>, without the prefix twice."""
    return ENV_PREFIX + setting.upper().removeprefix(ENV_PREFIX)


class DeploySettings(BaseModel):
    """Where and how the service runs. Secrets never live here, only references to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_name: str = Field(
        default="nfl-trajectory",
        pattern=r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$",
        description="service / function name (lowercase letters, digits, dashes)",
    )
    project: str | None = Field(default=None, description="Google Cloud project id")
    region: str = Field(default="us-central1", description="Cloud Run region")
    aws_region: str = Field(default="us-east-1", description="AWS region for Lambda and ECR")
    aws_account_id: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        description="AWS account of the Lambda function: every ARN of the rendered IAM policies names it "
        "(unset: a placeholder that grants nothing); bootstrap refuses credentials of another account",
    )
    github_repository: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$",
        description="owner/name of the GitHub repository whose workflow releases: the rendered deploy role's "
        "trust names it (unset: a placeholder that matches no repository)",
    )
    registry: str | None = Field(default=None, description="registry host[:port][/path] images are pushed to")
    repository: str = Field(default="nfldeploy/nfl-trajectory", description="image repository name")
    base_image: str = Field(default="python:3.11-slim", description="base image of the serving image")
    cpu: float = Field(default=1.0, gt=0, description="vCPUs per instance")
    memory: str = Field(default="2Gi", pattern=r"^\d+(Mi|Gi)$", description="memory per instance, e.g. 2Gi")
    min_instances: int = Field(default=0, ge=0)
    max_instances: int = Field(default=10, ge=1)
    concurrency: int = Field(default=80, ge=1, le=1000, description="requests per instance at once")
    timeout: int = Field(default=300, ge=1, le=3600, description="request timeout in seconds")
    port: int = Field(default=8080, ge=1, le=65535)
    auth: bool = Field(default=False, description="require bearer tokens on the API")
    api_keys_secret: str | None = Field(default=None, description="secret reference holding the API keys")
    rate_limit_rps: float = Field(default=50.0, gt=0, description="requests per second per key or client")
    rate_limit_burst: int = Field(default=100, ge=1)
    service_account: str | None = Field(default=None, description="Cloud Run: the revision's service account")
    trusted_hops: int = Field(
        default=0,
        ge=0,
        le=16,
        description="X-Forwarded-For entries the proxies in front of the service write, counted from the right "
        "(NFLSERVE_TRUSTED_HOPS): 0 trusts the trusted proxies' walk (Cloud Run's run.app: the caller's "
        "address); 2 behind a Google external Application Load Balancer (it appends <client>,<load balancer>)",
    )
    ingress: Ingress | None = Field(
        default=None,
        description="Cloud Run: who may reach the service (INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY, "
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER); default INTERNAL_LOAD_BALANCER when trusted_hops > 0, "
        "else ALL (on an update: the service's own, unchanged); trusted_hops > 0 with ALL is refused",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="a public service on purpose: Cloud Run lets allUsers invoke it (IAM run.invoker); "
        "Lambda accepts function_url_auth NONE without API keys",
    )
    lambda_architecture: Literal["x86_64", "arm64"] = Field(
        default="x86_64", description="the Lambda function's CPU architecture"
    )
    training_config: str | None = Field(
        default=None,
        description="the training config JSON in your repository, for the rendered workflow "
        "(default: outputs/<experiment_name>_config.json, where the training project writes it)",
    )
    nfldeploy_wheel: str | None = Field(
        default=None,
        description="the nfldeploy wheel build puts into the image and the rendered workflow installs: a path "
        "(for the workflow, in your repository: render pins its sha256) or an https URL with its sha256 "
        "(https://.../nfldeploy-<version>-py3-none-any.whl#sha256=<hex>); default: nfldeploy's own wheel, "
        "vendored beside the workflow",
    )
    smoke_p95_budget_ms: float = Field(
        default=250.0, gt=0, description="the rendered workflow's smoke test fails above this p95 latency"
    )
    lambda_endpoint: Literal["function_url", "api_gateway"] = Field(
        default="function_url",
        description="how callers reach the Lambda function: its function URL, or an API Gateway HTTP API "
        "(throttled at rate_limit_rps / rate_limit_burst)",
    )
    function_url_auth: Literal["NONE", "AWS_IAM"] = Field(
        default="AWS_IAM",
        description="Lambda function URL auth type (AWS_IAM: callers sign with SigV4; NONE: public)",
    )
    lambda_keep_versions: int = Field(
        default=5,
        ge=1,
        description="Lambda: the published versions kept after a promote or a deploy without canary, newest "
        "first, besides the serving one, the previous one (the rollback target) and any an alias uses; "
        "older ones are deleted",
    )
    log_retention_days: int = Field(
        default=30,
        description="Lambda: days the function's log group keeps its events (set by nfldeploy bootstrap; "
        "one of CloudWatch Logs' values: 1, 3, 5, 7, 14, 30, 60, 90, ..., 3653)",
    )
    cloud_call_attempts: int = Field(
        default=5,
        ge=1,
        le=10,
        description="attempts per cloud API call, the first included, when the API throttles, answers 5xx or "
        "drops the connection (botocore's standard retry mode; google-api-core's Retry, same count)",
    )
    cloud_call_timeout: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="seconds one attempt of a cloud API call may wait for its answer before it is abandoned "
        "(and retried, within cloud_call_attempts)",
    )
    checklist_required: str = Field(
        default="model_exported,api_tested,image_built,environment,monitoring,logging,rate_limiting,"
        "authentication,load_testing,rollback_plan",
        description="the deployment checklist's items a release needs (comma-separated; nfldeploy checklist "
        "exits 3 when one is missing); the other item is ci_cd",
    )

    @model_validator(mode="after")
    def _check(self) -> DeploySettings:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days must be one of {', '.join(map(str, LOG_RETENTION_DAYS))} "
                f"(CloudWatch Logs' PutRetentionPolicy), not {self.log_retention_days}"
            )
        if self.trusted_hops and self.ingress == INGRESS_ALL:
            # With ingress ALL the run.app URL stays open beside the load balancer, and run.app appends the
            # caller's address to the client's own header (tests/fake_cloudrun.py's "append" front end), so
            # hops[-N] would be an entry the client wrote: a forged address, a fresh rate-limit bucket.
            raise ValueError(
                f"trusted_hops = {self.trusted_hops} with ingress = {INGRESS_ALL} lets a caller forge its "
                "address through the run.app URL (which bypasses the load balancer); set ingress = "
                f"{INGRESS_LOAD_BALANCER} (the default with trusted_hops) or trusted_hops = 0"
            )
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) must not exceed max_instances ({self.max_instances})"
            )
        return self

    @property
    def memory_mib(self) -> int:
        """Memory in MiB."""
        number, unit = int(self.memory[:-2]), self.memory[-2:]
        return number * 1024 if unit == "Gi" else number

    @property
    def cloudrun_ingress(self) -> str:
        """The Cloud Run ingress this deploy asks for: the setting, else INTERNAL_LOAD_BALANCER behind a load
        balancer (``trusted_hops`` > 0), else ALL."""
        if self.ingress:
            return self.ingress
        return INGRESS_LOAD_BALANCER if self.trusted_hops else INGRESS_ALL

    def service_env(self) -> dict[str, str]:
        """The plain environment every target gives the service (secrets travel as references, apart)."""
        env = {
            "NFLSERVE_RATE_LIMIT_RPS": f"{self.rate_limit_rps:g}",
            "NFLSERVE_RATE_LIMIT_BURST": str(self.rate_limit_burst),
        }
        if self.trusted_hops:
            env["NFLSERVE_TRUSTED_HOPS"] = str(self.trusted_hops)
        return env


@dataclass(frozen=True)
class ResolvedSettings:
    """Settings plus the source of each value ("default", "file:PATH", "env:NAME", "flag")."""

    settings: DeploySettings
    sources: dict[str, str] = field(default_factory=dict)
    settings_file: Path | None = None
    warnings: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, Any, str]]:
        """(name, value, source) for every setting, in declaration order."""
        return [
            (name, getattr(self.settings, name), self.sources[name]) for name in DeploySettings.model_fields
        ]


def find_settings_file(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """``nfldeploy.toml`` in ``start``, else ``[tool.nfldeploy]`` of its pyproject.toml."""
    candidate = start / SETTINGS_FILE
    if candidate.is_file():
        return candidate, _read_toml(candidate)
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("nfldeploy")
        if isinstance(table, dict):
            return pyproject, table
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings: {exc}", hint="Fix the TOML syntax.") from exc


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    settings_file: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ResolvedSettings:
    """Resolve the deploy settings. ``flags`` holds CLI values; ``None`` values mean 'not given'."""
    environ = os.environ if environ is None else environ
    fields = DeploySettings.model_fields
    file_values: dict[str, Any] = {}
    file_path: Path | None = None
    if settings_file is not None:
        if not settings_file.is_file():
            raise ConfigError(f"settings file not found: {settings_file}")
        file_path = settings_file
        data = _read_toml(settings_file)
        file_values = (
            data.get("tool", {}).get("nfldeploy", data) if settings_file.name == "pyproject.toml" else data
        )
    else:
        found = find_settings_file(cwd or Path.cwd())
        if found:
            file_path, file_values = found
    warnings: list[str] = []
    flags = _renamed(dict(flags or {}), "--set", warnings)
    file_values = _renamed(dict(file_values), str(file_path), warnings)
    unknown = sorted(set(file_values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{file_path}: unknown setting(s) {', '.join(unknown)}",
            hint=f"Known settings: {', '.join(fields)}.",
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in fields}
    for name in fields:
        variable = env_name(name)
        if flags and flags.get(name) is not None:
            values[name], sources[name] = flags[name], "flag"
        elif variable in environ:
            values[name], sources[name] = environ[variable], f"env:{variable}"
        elif old := next((o for o, new in RENAMED.items() if new == name and env_name(o) in environ), None):
            old_env = env_name(old)
            values[name], sources[name] = environ[old_env], f"env:{old_env}"
            warnings.append(f"{old_env} is deprecated: use {variable}")
        elif name in file_values:
            values[name], sources[name] = file_values[name], f"file:{file_path}"
    try:
        settings = DeploySettings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            origin = f" (from {sources[name]})" if name in sources else ""
            message = str(err["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}{origin}: {message}" if name else message)
        raise ConfigError("invalid deploy settings: " + "; ".join(problems)) from exc
    return ResolvedSettings(
        settings=settings, sources=sources, settings_file=file_path, warnings=tuple(warnings)
    )


def _renamed(values: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any]:
    """``values`` with old setting names moved to their new ones (or dropped), each with a warning."""
    for old, new in RENAMED.items():
        if old not in values:
            continue
        value = values.pop(old)
        if new is None:
            warnings.append(
                f"{where}: the setting {old!r} is gone (nothing read it) and is ignored; remove it"
            )
        else:
            warnings.append(
                f"{where}: the setting {old!r} is now {new!r}; the old name goes in the next release"
            )
            values.setdefault(new, value)
    return values
