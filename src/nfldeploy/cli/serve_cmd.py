"""``nfldeploy serve``: run the inference API locally on an export directory."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from nfldeploy.cli.choices import ServedArtifact
from nfldeploy.errors import ConfigError
from nfldeploy.export.layout import DEFAULT_OUT
from nfldeploy.extras import require
from nfldeploy.ports import port_taken


def serve(
    export_dir: Path = typer.Argument(
        DEFAULT_OUT, metavar="EXPORT_DIR", help="Output of nfldeploy export (holds manifest.json)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (0.0.0.0 for every interface)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default: $PORT, else 8080)."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes, each with its own model."),
    runtime: ServedArtifact = typer.Option(
        ServedArtifact.auto,
        "--runtime",
        help="auto (the manifest's default), onnx, onnx_int8, torchscript, torchscript_int8.",
    ),
) -> None:
    """Serve /predict, /predict_batch, /health, /ready, /version and /metrics until Ctrl-C or SIGTERM.

    More settings come from the container's NFLSERVE_* variables (not the CLI's NFLDEPLOY_* settings):
    API_KEYS (comma-separated bearer tokens) or API_KEYS_FILE, RATE_LIMIT_RPS, RATE_LIMIT_BURST, MAX_BATCH,
    MAX_WAIT_MS, QUEUE_SIZE, CACHE_SIZE, MAX_BODY_BYTES, MAX_BATCH_PLAYS, THREADS, TRUSTED_PROXIES,
    TRUSTED_HOPS, REQUEST_TIMEOUT_MS, LOG_LEVEL (the README lists them all). Logs are JSON lines on stdout.
    """
    if not (export_dir / "manifest.json").is_file():
        raise ConfigError(
            f"no export at {export_dir} (manifest.json missing)",
            hint="Run nfldeploy export CONFIG first, or pass the export directory.",
        )
    require("serve", "nfldeploy serve")
    from nfldeploy.serving.server import run

    port = port if port is not None else _port_from_env()
    if port_taken(host, port):
        raise ConfigError(
            f"{host}:{port} is in use already",
            hint="Pass --port N (or set PORT), or stop what listens there.",
        )
    run(
        export_dir,
        host=host,
        port=port,
        workers=workers,
        runtime=runtime.value,
    )


def _port_from_env() -> int:
    raw = os.environ.get("PORT", "8080")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT must be a TCP port number (1..65535), not {raw!r}")
    return int(raw)
