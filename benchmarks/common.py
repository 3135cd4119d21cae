"""What the benchmarks share: the example's export (made when none is given), free ports, and an
``nfldeploy serve`` process waited for until it is ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "nfl_production_v2_config.json"
#: Load tests measure the model, not the limiter or the log.
UNLIMITED = {
    "NFLDEPLOY_RATE_LIMIT_RPS": "1e9",
    "NFLDEPLOY_RATE_LIMIT_BURST": "1000000000",
    "NFLDEPLOY_ACCESS_LOG": "false",
}


def export_or_example(export_dir: Path) -> Path:
    """``export_dir`` when it holds an export, else the example exported into a temporary folder."""
    if (export_dir / "manifest.json").exists():
        return export_dir
    from nfldeploy.export.pipeline import ExportOptions, run_export

    out = Path(tempfile.mkdtemp()) / "exported_models"
    run_export(ExportOptions(config=EXAMPLE, out=out))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(export_dir: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """``nfldeploy serve EXPORT_DIR`` on a free port with ``env`` added; returns once /ready answers 200."""
    port = free_port()
    command = [sys.executable, "-m", "nfldeploy", "serve", str(export_dir), "--port", str(port), *args]
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited early")
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"the server at {url} did not get ready")
