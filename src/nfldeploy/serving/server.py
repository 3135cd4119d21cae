"""Running the API with uvicorn: JSON logs, PORT honoured, graceful shutdown on SIGTERM."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType

from nfldeploy.serving import logs
from nfldeploy.serving.config import read_var, var

log = logging.getLogger("nfldeploy.serving")


def run(
    model_dir: Path | None = None,
    host: str = "0.0.0.0",
    port: int | None = None,
    workers: int = 1,
    runtime: str | None = None,
    graceful_seconds: int = 30,
) -> None:
    """Serve until SIGTERM/SIGINT: uvicorn stops accepting, finishes in-flight requests, then the app
    drains its batcher. Settings reach every worker through ``NFLSERVE_*`` variables."""

    if model_dir is not None:
        os.environ[var("model_dir")] = str(model_dir.resolve())
    if runtime is not None:
        os.environ[var("runtime")] = runtime
    port = port if port is not None else int(os.environ.get("PORT", "8080"))
    logs.configure((read_var(os.environ, "log_level") or "INFO").upper())
    log.info("starting", extra={"host": host, "port": port, "workers": workers})
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again for the handler that was there before:
    # this one, so a clean shutdown exits 0 (what orchestrators read as "stopped cleanly").
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _stopped)
    metrics_dir = None
    if workers > 1:
        # one view of several processes: /metrics sums every worker's samples, and each worker enforces its
        # share of the rate limit (NFLSERVE_WORKERS divides it), so the instance's limit is the setting
        os.environ[var("workers")] = str(workers)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="nfldeploy-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _serve(host, port, workers, graceful_seconds)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(host: str, port: int, workers: int, graceful_seconds: int) -> None:
    import uvicorn

    uvicorn.run(
        "nfldeploy.serving.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=graceful_seconds,
        proxy_headers=False,  # the app resolves the client from X-Forwarded-For (NFLSERVE_TRUSTED_PROXIES)
        server_header=False,
    )


def _stopped(signum: int, frame: FrameType | None) -> None:
    log.info("stopped", extra={"signal": signal.Signals(signum).name})
