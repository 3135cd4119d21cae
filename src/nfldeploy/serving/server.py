"""Running the API with uvicorn: JSON logs, PORT honoured, graceful shutdown on SIGTERM: a drain window
first (``NFLSERVE_DRAIN_SECONDS``, default 3 s, shorter than the platforms' grace periods: Cloud Run and
``docker stop`` give 10 s), in which new connections are refused and every answer on an open connection
carries ``Connection: close``; then uvicorn closes what is left and finishes in-flight requests."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from nfldeploy.errors import ConfigError
from nfldeploy.serving import logs
from nfldeploy.serving.config import read_var, var
from nfldeploy.serving.guard import DRAINING

DRAIN_SECONDS = 3.0

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
    drain_seconds = _drain_seconds()
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
        _serve(host, port, workers, graceful_seconds, drain_seconds)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _drain_seconds() -> float:
    raw = read_var(os.environ, "drain_seconds")
    try:
        seconds = DRAIN_SECONDS if raw is None else float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ConfigError(f"{var('drain_seconds')} must be a number of seconds in 0..60, not {raw!r}")
    return seconds


def _serve(host: str, port: int, workers: int, graceful_seconds: int, drain_seconds: float) -> None:
    import uvicorn

    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_seconds,
        "proxy_headers": False,  # the app resolves the client from X-Forwarded-For (NFLSERVE_TRUSTED_PROXIES)
        "server_header": False,
    }
    if workers > 1:
        # uvicorn's supervisor holds the listening socket until it exits, so a worker cannot refuse new
        # connections while it drains: several workers stop the way uvicorn does
        uvicorn.run("nfldeploy.serving.app:app_from_env", **options)
        return
    server = _draining_server(uvicorn.Config("nfldeploy.serving.app:app_from_env", **options), drain_seconds)
    server.run()
    if not server.started:
        raise SystemExit(3)  # uvicorn's own exit code for a failed start-up


def _draining_server(config: Any, drain_seconds: float) -> Any:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """On the first SIGTERM/SIGINT: stop listening (new connections are refused), answer what arrives on
        open connections with ``Connection: close``, and shut down once they are all closed or the drain
        window is over. A second signal stops at once."""

        drain_until: float | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if self.drain_until is None and drain_seconds > 0 and self.started:
                self._captured_signals.append(sig)  # re-raised after the shutdown, as uvicorn does
                self.drain_until = time.monotonic() + drain_seconds
                DRAINING.set()
                for listener in self.servers:
                    listener.close()
                log.info("draining", extra={"signal": signal.Signals(sig).name, "seconds": drain_seconds})
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_until is not None and (
                time.monotonic() >= self.drain_until or not self.server_state.connections
            ):
                self.should_exit = True
            return bool(await super().on_tick(counter))

    return DrainingServer(config)


def _stopped(signum: int, frame: FrameType | None) -> None:
    log.info("stopped", extra={"signal": signal.Signals(signum).name})
