"""The rendered release job's rollback step: it runs when a step after the canary's deploy failed, and when
the run was cancelled after it (a cancel by hand, a lost runner): a canary must never keep its share because
nobody watched. Steps with ``cancelled()`` in their condition run after a cancellation
(https://docs.github.com/en/actions/reference/workflows-and-actions/expressions#status-check-functions)."""

from __future__ import annotations

import pytest
import yaml

from manifests import sample_manifest
from nfldeploy.render import views
from nfldeploy.render.files import render_all
from nfldeploy.settings import DeploySettings
from workflow_runner import EXPRESSION, evaluate


@pytest.fixture(scope="module")
def rollback_condition(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("rendered")
    inputs = views.Inputs(
        DeploySettings(registry="us-docker.pkg.dev/proj/nfl", project="proj"),
        sample_manifest(),
        "us-docker.pkg.dev/proj/nfl/nfldeploy/nfl-trajectory:07ddda2891bd-onnx",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nfl-trajectory:07ddda2891bd-onnx-lambda",
    )
    render_all(inputs, out, ["github"])
    workflow = yaml.safe_load((out / "github/workflows/nfldeploy.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["release"]["steps"] if s.get("name") == "Roll back"]
    return EXPRESSION.sub(r"\1", str(step["if"]))


@pytest.mark.parametrize(
    ("state", "canary", "runs"),
    [
        ("failure", "success", True),  # the smoke test or the promote failed after the canary took traffic
        ("cancelled", "success", True),  # cancelled after the canary took traffic
        ("failure", "failure", False),  # the canary's own deploy failed: it never took traffic
        ("cancelled", "skipped", False),  # cancelled before the canary
        ("success", "success", False),  # promoted
    ],
)
def test_the_rollback_step_runs_exactly_when_a_canary_took_traffic_and_the_run_did_not_finish(
    rollback_condition: str, state: str, canary: str, runs: bool
) -> None:
    scope = {
        "success": lambda: state == "success",
        "failure": lambda: state == "failure",
        "cancelled": lambda: state == "cancelled",
        "always": lambda: True,
        "steps": {"canary": {"outcome": canary, "conclusion": canary}},
    }
    assert bool(evaluate(rollback_condition, scope)) is runs
