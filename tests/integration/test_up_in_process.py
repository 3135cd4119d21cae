"""``nfldeploy up`` on a machine without a Docker engine: the service runs as a background ``nfldeploy serve``,
the next ``up`` replaces it, and a server that cannot start is one clear error that leaves the serving one
alone."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from nfldeploy.errors import ConfigError, DeployError, ExportError
from nfldeploy.records.manifest import read_manifest
from nfldeploy.serve_process import PID_FILE, is_serving
from nfldeploy.settings import DeploySettings
from nfldeploy.up import up
from services import free_port

pytestmark = pytest.mark.slow
SETTINGS = DeploySettings(service_name="nfl-up-process")


@pytest.fixture
def out(example_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the example's export (current for its config and checkpoint), with no engine to reach;
    every server started on it is stopped afterwards, whatever the test did."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    copy = tmp_path / "exported_models"
    shutil.copytree(example_export, copy)
    yield copy
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            serving_copy = str(copy).encode() in (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if serving_copy and is_serving(int(proc.name)):
            os.kill(int(proc.name), signal.SIGKILL)


def _recorded_pid(out: Path) -> list[int]:
    path = out.parent / PID_FILE
    return [int(path.read_text().split()[0])] if path.is_file() else []


def _retrained(source: Path, target: Path) -> Path:
    """The example's checkpoint after another epoch: other bytes, other weights."""
    checkpoint = torch.load(source, weights_only=False)
    generator = torch.Generator().manual_seed(3)
    for key, tensor in checkpoint["state_dict"].items():
        if tensor.is_floating_point() and tensor.numel() > 1:
            noise = torch.randn(tensor.shape, generator=generator)
            checkpoint["state_dict"][key] = tensor + 0.01 * tensor.std() * noise
    checkpoint["epoch"] += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, target)
    return target


def test_up_without_an_engine_serves_in_process_and_the_next_up_replaces_it(
    out: Path, example_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    first = up(example_config, SETTINGS, port, out=out)
    (first_pid,) = _recorded_pid(out)
    assert first.mode == "process" and not first.exported and first.report.passed
    assert f"process {first_pid}" in first.where and any("no Docker engine" in n for n in first.notes)
    assert is_serving(first_pid) and httpx.get(f"{first.url}/ready").status_code == 200

    # a checkpoint from elsewhere (--checkpoint): exported again, and its server replaces the first one
    missing = tmp_path / "nowhere.ckpt"
    with pytest.raises(ExportError, match="checkpoint not found"):
        up(example_config, SETTINGS, port, out=out, checkpoint_path=missing)
    assert is_serving(first_pid)  # a refused up stops nothing
    shipped = example_config.parents[1] / "checkpoints/nfl_production_v2-best.ckpt"
    checkpoint = _retrained(shipped, tmp_path / "elsewhere" / "retrained.ckpt")
    second = up(example_config, SETTINGS, port, out=out, checkpoint_path=checkpoint)
    (second_pid,) = _recorded_pid(out)
    # (its smoke test passed: /version is the new export's, golden outputs included)
    assert second.exported and second.report.passed and second_pid != first_pid
    assert read_manifest(out).checkpoint.source == str(checkpoint)
    assert not is_serving(first_pid) and is_serving(second_pid)

    # another program on the asked port: one clear error, and the serving server stays
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match=f"port {taken.getsockname()[1]} is in use by another program"):
            up(example_config, SETTINGS, taken.getsockname()[1], out=out)
    assert is_serving(second_pid) and _recorded_pid(out) == [second_pid]

    # a server that dies at start-up: its log's end at once (not a minute's wait), the serving one stays
    monkeypatch.setenv("NFLSERVE_DRAIN_SECONDS", "forever")
    other = free_port()
    with pytest.raises(DeployError, match="exited with code 1 before it was ready") as failed:
        up(example_config, SETTINGS, other, out=out)
    assert "NFLSERVE_DRAIN_SECONDS" in failed.value.message
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{other}/ready")
    assert is_serving(second_pid) and _recorded_pid(out) == [second_pid]
