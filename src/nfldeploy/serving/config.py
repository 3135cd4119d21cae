"""The server's settings, from ``NFLDEPLOY_*`` environment variables (the container's interface)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nfldeploy.errors import ConfigError


def _read_keys(environ: Mapping[str, str]) -> tuple[str, ...]:
    keys = [k.strip() for k in environ.get("NFLDEPLOY_API_KEYS", "").split(",")]
    key_file = environ.get("NFLDEPLOY_API_KEYS_FILE")
    if key_file:
        try:
            keys += [line.strip() for line in Path(key_file).read_text().splitlines()]
        except OSError as exc:
            raise ConfigError(f"cannot read NFLDEPLOY_API_KEYS_FILE {key_file}: {exc.strerror}") from exc
    secret_arn = environ.get("NFLDEPLOY_API_KEYS_SECRET_ARN")
    if secret_arn:
        from nfldeploy.serving.secrets import read_secret_keys

        keys += read_secret_keys(secret_arn)
    return tuple(k for k in keys if k and not k.startswith("#"))


@dataclass(frozen=True)
class ServeConfig:
    """How the API serves. Every field has an ``NFLDEPLOY_<NAME>`` environment variable."""

    model_dir: Path = Path("/app/model")
    runtime: str = (
        "auto"  # auto (the manifest's serving default) or an artifact: onnx, onnx_int8, torchscript
    )
    threads: int = 1  # intra-op threads of the model runtime
    max_batch: int = 32  # plays per model call when /predict requests are coalesced
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
    auth_failure_rps: float = 1.0  # bad tokens an address may try per second (after the burst: 429)
    auth_failure_burst: int = 10
    request_timeout_ms: float = 30_000.0  # a request waiting longer for the model is answered 504
    batching: bool = True  # False answers each request with its own model call (Lambda)
    model_thread: bool = False  # run the model on its own thread instead of in the event loop
    access_log: bool = True  # one JSON line per request on stdout
    gc_threshold: str = "50000,50,100"  # gen0,gen1,gen2 of Python's collector; empty keeps the default

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServeConfig:
        """Settings from the environment; ``overrides`` (from the CLI) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, spec in cls.__dataclass_fields__.items():
            raw = env.get(f"NFLDEPLOY_{name.upper()}")
            if raw is None or name == "api_keys":
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
                raise ConfigError(f"NFLDEPLOY_{name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
        values["api_keys"] = _read_keys(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
