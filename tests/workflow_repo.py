"""A user's training repository holding the rendered workflow, and the runner's environment, for the tests
that run the workflow with tests/workflow_runner.py (tests/integration/test_workflow*.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from typer.testing import CliRunner

from nfldeploy.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "examples/checkpoints/nfl_production_v2-best.ckpt"
TRAINING_CONFIG = "outputs/nfl_production_v2_config.json"


def make_venv(folder: Path) -> Path:
    """setup-python's venv: empty; the workflow's own pip install steps fill it."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return venv


def runner_env() -> dict[str, str]:
    """The runner's environment: this machine's, without the dev venv or any nfldeploy or AWS setting."""
    dev_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NFLDEPLOY_", "VIRTUAL_ENV", "AWS_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != dev_bin)
    # This machine has no route to the workflow's CPU torch index: pip gives up on it at once (instead of
    # retrying every package for seconds) and takes torch's CPU wheel from the machine's wheel folder.
    env["PIP_RETRIES"] = "0"
    return env


def write_checkpoint(path: Path, change: str) -> None:
    """The example checkpoint, retrained (every weight perturbed) or broken (predictions 300 yd off)."""
    checkpoint = torch.load(CHECKPOINT, weights_only=False)
    state = checkpoint["state_dict"]
    if change == "retrained":
        generator = torch.Generator().manual_seed(11)
        for key, tensor in state.items():
            if tensor.is_floating_point() and tensor.numel() > 1:
                state[key] = tensor + 0.1 * tensor.std() * torch.randn(tensor.shape, generator=generator)
    else:
        state["model.decoder.gmm_head.2.bias"][0] += 300.0
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)


def render(export: Path, settings_file: Path, out: Path, only: str) -> Path:
    """``nfldeploy render --only ONLY`` of ``export`` with ``settings_file`` into ``out``."""
    rendered = CliRunner().invoke(
        app,
        ["render", str(export), "--only", only, "--out", str(out), "--settings", str(settings_file)],
    )
    assert rendered.exit_code == 0, rendered.output
    return out


def training_repository(folder: Path, settings: dict[str, Any], export: Path, change: str) -> Path:
    """A user's training repository after a run: config, checkpoint, settings, the rendered workflow (its
    github/ folder copied to .github/, with the nfldeploy wheel it vendors)."""
    repo = folder / "repo"
    (repo / "outputs").mkdir(parents=True)
    shutil.copy2(ROOT / "examples/outputs/nfl_production_v2_config.json", repo / "outputs")
    write_checkpoint(repo / "checkpoints" / "nfl_production_v2-best.ckpt", change)
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    settings_file = repo / "nfldeploy.toml"
    settings_file.write_text("\n".join(lines) + "\n")
    render(export, settings_file, folder / "render", "github")
    shutil.copytree(folder / "render" / "github", repo / ".github")
    return repo


def explain(results: dict[str, Any]) -> str:
    """Every failed step of a run, with the end of its output."""
    return "\n".join(
        f"{job.name}/{step.name}: {step.outcome}\n{step.output[-3000:]}"
        for job in results.values()
        for step in job.steps
        if step.outcome == "failure"
    )


def documented_subject(workflow: str, repository: str) -> str:
    """The OIDC ``sub`` the rendered workflow's header tells users to trust for the deploy role, for
    ``repository`` (owner/repo)."""
    text = " ".join(line.lstrip("# ") for line in workflow.splitlines() if line.startswith("#"))
    found = re.search(r"\bsub (repo:<owner>/<repo>:\S+)", text)
    assert found is not None, "the workflow's header names no sub for the deploy role's trust"
    return found[1].replace("<owner>/<repo>", repository)
