"""The server's settings, from ``NFLSERVE_*`` environment variables: the container's interface, a namespace
of its own so that a variable set for the server never reaches the CLI's settings (``NFLDEPLOY_*``) and the
other way round. The old ``NFLDEPLOY_<NAME>`` spelling is still read for this release, with a warning at
start-up (``legacy_names``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError

PREFIX = "NFLSERVE_"
LEGACY_PREFIX = "NFLDEPLOY_"  # the spelling before this release: read, with a warning


def var(name: str) -> str:
    """The container variable of a setting: ``var("api_keys")`` is ``NFLSERVE_API_KEYS``."""
    return PREFIX + name.upper()


def read_var(environ: Mapping[str, str], name: str, legacy: list[str] | None = None) -> str | None:
    """``NFLSERVE_<NAME>``, else the legacy ``NFLDEPLOY_<NAME>`` (its name appended to ``legacy``)."""
    value = environ.get(var(name))
    if value is None:
        value = environ.get(LEGACY_PREFIX + name.upper())
        if value is not None and legacy is not None:
            legacy.append(LEGACY_PREFIX + name.upper())
    return value


def _read_keys(environ: Mapping[str, str], legacy: list[str]) -> tuple[str, ...]:
    keys = [k.strip() for k in (read_var(environ, "api_keys", legacy) or "").split(",")]
    key_file = read_var(environ, "api_keys_file", legacy)
    if key_file:
        try:
            keys += [line.strip() for line in Path(key_file).read_text().splitlines()]
        except OSError as exc:
            raise ConfigError(f"cannot read {var('api_keys_file')} {key_file}: {exc.strerror}") from exc
    secret_arn = read_var(environ, "api_keys_secret_arn", legacy)
    if secret_arn:
        from nfldeploy.serving.secrets import read_secret_keys

        keys += read_secret_keys(secret_arn)
    return tuple(k for k in keys if k and not k.startswith("#"))


@dataclass(frozen=True)
class ServeConfig:
    """How the API serves. Every field has an ``NFLSERVE_<NAME>`` environment variable."""

    model_dir: Path = Path("/app/model")
    runtime: str = (
        "auto"  # auto (the manifest's serving default) or an artifact: onnx, onnx_int8, torchscript
    )
    threads: int = 1  # intra-op threads of the model runtime
    max_batch: int = 0  # plays per model call when requests are coalesced; 0: the export's measured best
    max_wait_ms: float = 0.0  # extra wait for more requests; 0 batches only what is already queued
    queue_size: int = 256  # /predict requests waiting for the model; past it 503 + Retry-After
    cache_size: int = 1024  # LRU of recent predictions; 0 turns it off
    max_body_bytes: int = 1_000_000
    max_batch_plays: int = 64  # plays in one /predict_batch request; past it 413
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    rate_limit_rps: float = 50.0
    rate_limit_burst: int = 100
    workers: int = 1  # worker processes of this instance; each enforces its share of the rate limits
    trusted_proxies: str = "127.0.0.1/32,::1/128"  # peers whose X-Forwarded-For names the client
    trusted_hops: int = 0  # X-Forwarded-For entries the platform in front writes (serving.clients); 0: walk
    auth_failure_rps: float = 1.0  # bad tokens an address may try per second (after the burst: 429)
    auth_failure_burst: int = 10
    request_timeout_ms: float = 30_000.0  # a request waiting longer for the model is answered 504
    batching: bool = True  # False answers each request with its own model call (Lambda)
    model_thread: bool = False  # run the model on its own thread instead of in the event loop
    access_log: bool = True  # one JSON line per request on stdout
    gc_threshold: str = "50000,50,100"  # gen0,gen1,gen2 of Python's collector; empty keeps the default
    log_level: str = "INFO"
    legacy_names: tuple[str, ...] = field(default=(), compare=False)  # NFLDEPLOY_* variables that were read

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServeConfig:
        """Settings from the environment; ``overrides`` (from the CLI) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        legacy: list[str] = []
        for name, spec in cls.__dataclass_fields__.items():
            if name in ("api_keys", "legacy_names"):
                continue
            raw = read_var(env, name, legacy)
            if raw is None:
                continue
            kind: Any = type(spec.default)
            try:
                if kind is bool:
                    values[name] = raw.strip().lower() in {"1", "true", "yes", "on"}
                elif kind is Path:
                    values[name] = Path(raw)
                else:
                    values[name] = kind(raw)
            except ValueError as exc:
                raise ConfigError(f"{var(name)}={raw!r} is not a valid {kind.__name__}") from exc
        values["api_keys"] = _read_keys(env, legacy)
        values["legacy_names"] = tuple(legacy)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
