"""The platforms' limits, checked before anything is rendered: an impossible setting names the limit."""

from __future__ import annotations

from nfldeploy.errors import ConfigError
from nfldeploy.settings import DeploySettings

CLOUD_RUN_CPUS = (1, 2, 4, 6, 8)
# Cloud Run memory bounds (MiB) per whole-CPU count: (minimum, maximum).
CLOUD_RUN_MEMORY = {1: (128, 4096), 2: (128, 8192), 4: (2048, 16384), 6: (4096, 24576), 8: (4096, 32768)}
CLOUD_RUN_MAX_TIMEOUT = 3600
CLOUD_RUN_MAX_CONCURRENCY = 1000
LAMBDA_MEMORY_MB = (128, 10240)
LAMBDA_MAX_TIMEOUT = 900


def check_cloudrun(settings: DeploySettings) -> None:
    """cpu 1, 2, 4, 6 or 8 (or below 1 with concurrency 1), memory within that cpu's range, timeout <= 3600 s."""
    cpu, memory = settings.cpu, settings.memory_mib
    if cpu < 1:
        if settings.concurrency != 1:
            raise ConfigError(
                f"Cloud Run allows cpu below 1 ({cpu:g}) only with concurrency 1 (got {settings.concurrency})"
            )
        if memory > 512:
            raise ConfigError(f"Cloud Run allows at most 512Mi with cpu below 1 (got {settings.memory})")
    elif cpu not in CLOUD_RUN_CPUS:
        raise ConfigError(
            f"Cloud Run cpu must be one of {', '.join(map(str, CLOUD_RUN_CPUS))} (or below 1), got {cpu:g}",
            hint="Set cpu in nfldeploy.toml, NFLDEPLOY_CPU or --set cpu=N.",
        )
    else:
        low, high = CLOUD_RUN_MEMORY[int(cpu)]
        if not low <= memory <= high:
            raise ConfigError(
                f"Cloud Run with cpu {int(cpu)} needs memory between {low}Mi and {high}Mi, got {settings.memory}"
            )
    if settings.timeout > CLOUD_RUN_MAX_TIMEOUT:
        raise ConfigError(
            f"Cloud Run's request timeout is at most {CLOUD_RUN_MAX_TIMEOUT} s, got {settings.timeout}"
        )
    if settings.concurrency > CLOUD_RUN_MAX_CONCURRENCY:
        raise ConfigError(
            f"Cloud Run's concurrency is at most {CLOUD_RUN_MAX_CONCURRENCY}, got {settings.concurrency}"
        )


def check_lambda(settings: DeploySettings) -> None:
    """Memory 128-10240 MB, timeout <= 900 s (cfn-lint does not catch these in SAM templates)."""
    low, high = LAMBDA_MEMORY_MB
    if not low <= settings.memory_mib <= high:
        raise ConfigError(
            f"Lambda memory must be {low}-{high} MB, got {settings.memory} ({settings.memory_mib} MB)"
        )
    if settings.timeout > LAMBDA_MAX_TIMEOUT:
        raise ConfigError(f"Lambda's timeout is at most {LAMBDA_MAX_TIMEOUT} s, got {settings.timeout}")
