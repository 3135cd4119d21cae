"""Parity with the training project's own numbers: ``../shared/upstream_fixture/`` holds a checkpoint of its
``NFLGraphTransformer`` at the real size (hidden 128, 4 heads, 4 GAT layers, 8 modes), a 22-player request
moving left, and what that project's own DataLoader, graph construction and PyG forward computed for it.
The checkpoint is exported as a user would, served through the API, and every returned number is compared
with the reference (the API rounds positions to 0.001 yd; the model's own outputs are checked within 1e-4).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from services import unavailable

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "upstream_fixture"
MODEL_TOLERANCE = 1e-4
SERVED_TOLERANCE = 1e-4 + 5e-4  # positions are rounded to 0.001 yd in the answer


@pytest.fixture(scope="module")
def fixture_dir() -> Path:
    if not (FIXTURE / "up.ckpt").is_file():
        unavailable(f"the training project's parity fixture is not at {FIXTURE}")
    return FIXTURE


@pytest.fixture(scope="module")
def upstream_export(fixture_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture's checkpoint exported with its own config (ONNX, gated), as ``nfldeploy export`` does."""
    root = tmp_path_factory.mktemp("upstream")
    (root / "outputs").mkdir()
    config = root / "outputs" / "nfl_production_v2_config.json"
    shutil.copyfile(fixture_dir / "nfl_production_v2_config.json", config)
    out = root / "exported"
    result = CliRunner().invoke(
        app,
        [
            *("export", str(config), "--checkpoint", str(fixture_dir / "up.ckpt"), "--out", str(out)),
            *("--formats", "onnx", "--quantize", "none", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _reference(fixture_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixture_dir / "reference.json").read_text())
    return data


def _request(fixture_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((fixture_dir / "request.json").read_text())
    return data


def test_the_model_outputs_equal_the_training_projects(fixture_dir: Path, upstream_export: Path) -> None:
    """The exported model (onnxruntime, the API's feature pipeline) before any rounding: every mode's
    positions, probability, sigmas and rho per player, and the coverage logit."""
    from nfldeploy.serving.backends import load_model
    from nfldeploy.serving.predictor import Predictor
    from nfldeploy.serving.schemas import PredictRequest

    manifest = json.loads((upstream_export / "manifest.json").read_text())
    assert manifest["model"]["hidden_dim"] == 128 and manifest["model"]["modes"] == 8
    assert manifest["model"]["heads"] == 4 and manifest["model"]["num_gnn_layers"] == 4
    request = PredictRequest.model_validate(_request(fixture_dir))
    reference = _reference(fixture_dir)
    play = request.to_play()
    predictor = Predictor(load_model(upstream_export))
    (result,) = predictor.run_plays([play], modes=predictor.modes)
    assert result.uncertainty is not None and result.zone_coverage is not None
    for index, player in enumerate(request.players):
        expected = reference["players"][str(player.nfl_id)]
        order = [int(m) for m in result.mode_index[index]]  # the decoded modes, most likely first
        for slot, mode in enumerate(order):
            want = expected["modes"][mode]
            assert abs(float(result.probs[index, slot]) - want["probability"]) < MODEL_TOLERANCE
            got = result.positions[index, slot]
            assert np.abs(got - np.array(want["positions"])).max() < MODEL_TOLERANCE, (player.nfl_id, mode)
            spread = result.uncertainty[index, slot]  # [T, 3]: sigma_x, sigma_y, rho
            for column, key in enumerate(("sigma_x", "sigma_y", "rho")):
                assert np.abs(spread[:, column] - np.array(want[key])).max() < MODEL_TOLERANCE, key
        assert order[0] == expected["best_mode"]
        assert np.abs(result.positions[index, 0] - np.array(expected["positions"])).max() < MODEL_TOLERANCE
    assert abs(result.zone_coverage - reference["coverage_zone_probability"]) < 1e-5


def test_the_served_answer_equals_the_training_projects(fixture_dir: Path, upstream_export: Path) -> None:
    """Through the API: the default answer (best path, confidence, every mode's probability) and the answer
    with every mode (``modes: 8``) against the reference, per player by nfl_id."""
    from fastapi.testclient import TestClient

    from nfldeploy.serving.app import create_app
    from nfldeploy.serving.backends import load_model
    from nfldeploy.serving.config import ServeConfig

    reference = _reference(fixture_dir)
    body = _request(fixture_dir)
    api = create_app(ServeConfig(model_dir=upstream_export, access_log=False), load_model(upstream_export))
    with TestClient(api) as client:
        default = client.post("/predict", json=body)
        full = client.post("/predict", json={**body, "modes": 8})
        batch = client.post("/predict_batch", json=[{**body, "modes": 1}, body])
    assert default.status_code == full.status_code == batch.status_code == 200, default.text
    assert len(default.content) < 10_000  # the guide's shape: small
    for answer in (default.json(), full.json(), *batch.json()["results"]):
        assert abs(answer["zone_coverage_probability"] - reference["coverage_zone_probability"]) < 1e-4
        for prediction in answer["predictions"]:
            expected = reference["players"][str(prediction["player_id"])]
            best = np.array(prediction["predicted_positions"])
            assert np.abs(best - np.array(expected["positions"])).max() < SERVED_TOLERANCE
            probabilities = [mode["probability"] for mode in expected["modes"]]
            assert np.abs(np.array(prediction["mode_probabilities"]) - probabilities).max() < 1e-4
            assert abs(prediction["confidence"] - max(probabilities)) < 1e-4
    for prediction in full.json()["predictions"]:
        expected = reference["players"][str(prediction["player_id"])]
        assert len(prediction["modes"]) == 8 and prediction["modes"][0]["mode"] == expected["best_mode"]
        for mode in prediction["modes"]:
            want = expected["modes"][mode["mode"]]
            assert np.abs(np.array(mode["positions"]) - np.array(want["positions"])).max() < SERVED_TOLERANCE
            assert abs(mode["probability"] - want["probability"]) < 1e-4
            for key in ("sigma_x", "sigma_y", "rho"):
                assert np.abs(np.array(mode[key]) - np.array(want[key])).max() < 1e-4 + 5e-5, key
    assert all("modes" not in prediction for prediction in default.json()["predictions"])
