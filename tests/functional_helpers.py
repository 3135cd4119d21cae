"""Serving the real app in-process on a loopback port, for tests that talk HTTP to it."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from nfldeploy.serving.app import create_app
from nfldeploy.serving.config import ServeConfig
from services import free_port


@contextlib.contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port in a thread."""
    port = free_port()
    server = uvicorn.Server(
        # as nfldeploy.serving.server runs it: the app, not uvicorn, reads X-Forwarded-For
        uvicorn.Config(
            asgi, host="127.0.0.1", port=port, log_level="error", lifespan="on", proxy_headers=False
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def app_for(model_dir: Path, **settings: Any) -> Any:
    """The real app with limits out of the way and no access log (these tests read the CLI's stdout)."""
    settings = {"rate_limit_rps": 10_000, "rate_limit_burst": 10_000, "access_log": False, **settings}
    config = ServeConfig(model_dir=model_dir, **settings)
    return create_app(config)
