"""The training project's NFLGraphTransformer checkpoints: detected, exported, gated, served, and the served
predictions equal to the PyTorch Geometric composition of the same model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.model.graph_transformer import GraphTransformerSpec, NFLGraphTransformer

pytestmark = pytest.mark.slow
runner = CliRunner()
SMALL = GraphTransformerSpec(9, 32, 4, 4, 10, True, 4)


def _config(tmp_path: Path, **overrides: Any) -> Path:
    data = {
        "experiment_name": "nfl_production_v2",
        "input_dim": 9,
        "hidden_dim": 32,
        "num_gnn_layers": 6,  # what the training project's config says; its model has 4 layers, 4 heads
        "heads": 8,
        "future_seq_len": 10,
        "probabilistic": True,
        "num_modes": 4,
        "checkpoint_dir": "checkpoints",
        "learning_rate": 0.001,
        **overrides,
    }
    path = tmp_path / "outputs" / "nfl_production_v2_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _weights(spec: GraphTransformerSpec, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = NFLGraphTransformer(spec)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.state_dict()


def _lightning(path: Path, state: dict[str, torch.Tensor], prefix: str = "model.") -> Path:
    """The layout a Lightning run writes: model.<param>, the SocialNCE loss's own parameters, hparams."""
    hidden = state["encoder.embedding.weight"].shape[0]
    entries = {f"{prefix}{key}": value for key, value in state.items()}
    entries["social_nce_loss.proj.0.weight"] = torch.zeros(hidden // 2, hidden)
    entries["social_nce_loss.proj.0.bias"] = torch.zeros(hidden // 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": 4,
            "global_step": 100,
            "pytorch-lightning_version": "2.6.6",
            "state_dict": entries,
            "hyper_parameters": {"input_dim": 9, "hidden_dim": hidden, "lr": 0.001, "use_social_nce": True},
        },
        path,
    )
    return path


def _export(*args: str) -> Any:
    return runner.invoke(app, ["export", *args])


def test_a_lightning_checkpoint_exports_serves_and_equals_the_pyg_model(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from nfldeploy.model.contracts import GRAPH
    from nfldeploy.model.features import Play
    from nfldeploy.serving.app import create_app
    from nfldeploy.serving.backends import load_model
    from nfldeploy.serving.config import ServeConfig
    from nfldeploy.serving.predictor import Predictor
    from nfldeploy.serving.schemas import PredictRequest
    from pyg_reference import PygGraphTransformer, to_pyg_batch

    config = _config(tmp_path)
    state = _weights(SMALL)
    _lightning(tmp_path / "checkpoints" / "nfl_production_v2-epoch=04-val_ade=0.545.ckpt", state)
    out = tmp_path / "exported"
    result = _export(str(config), "--out", str(out), "--quantize", "none", "--json")
    assert result.exit_code == 0, result.output
    assert "says heads 8 but the weights" in result.stderr and "num_gnn_layers 6" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["architecture"] == "nfl_graph_transformer"
    assert manifest["model"]["feature_contract"] == "nfl-graph-v1"
    assert manifest["model"]["heads"] == 4 and manifest["model"]["num_gnn_layers"] == 4
    assert manifest["model"]["outputs"] == [
        "trajectories",
        "mode_probs",
        "uncertainty",
        "coverage_logit",
        "mode_index",
        "all_mode_probs",
    ]
    assert manifest["signature"]["inputs"][-1] == {
        "name": "mode_ranks",
        "dtype": "int64",
        "shape": ["modes_out"],
    }
    assert manifest["top_k"]["passed"] and manifest["top_k"]["k"] == [1, 4]
    assert manifest["checkpoint"]["hyper_parameters"]["use_social_nce"] is True
    assert manifest["checkpoint"]["ignored_keys"] == [
        "social_nce_loss.proj.0.weight",
        "social_nce_loss.proj.0.bias",
    ]
    for name in ("onnx", "torchscript"):
        parity = manifest["parity"][name]
        assert parity["passed"] and parity["top1_error"] < 1e-3
        assert set(parity["output_errors"]) == set(manifest["model"]["outputs"]) - {"mode_index"}

    # The served model (onnxruntime, the API's pipeline) against the PyG composition on the golden plays.
    requests = json.loads((out / "golden/requests.json").read_text())
    plays: list[Play] = [PredictRequest.model_validate(body).to_play() for body in requests]
    reference = PygGraphTransformer(SMALL).eval()
    reference.load_state_dict(state, strict=True)
    inputs = GRAPH.encode(plays, "sincos9")
    with torch.no_grad():
        (params, probs), coverage = reference(to_pyg_batch(inputs))
    served = Predictor(load_model(out)).run_plays(plays, SMALL.num_modes)
    offset = 0
    for play, answer in zip(plays, served, strict=True):
        n = len(play.players)
        assert answer.mode_index is not None and answer.all_probs is not None
        order = answer.mode_index[:, :, None, None]  # the served modes, most likely first
        mu = params[offset : offset + n, :, :, :2].permute(0, 2, 1, 3).numpy()  # [n, K, T, 2] by mode id
        if play.play_direction == "left":
            mu = -mu
        start = np.array([[p.x, p.y] for p in play.players])[:, None, None, :]
        assert np.abs(answer.positions - np.take_along_axis(start + mu, order, 1)).max() < 1e-4
        assert np.abs(answer.all_probs - probs[offset : offset + n].numpy()).max() < 1e-4
        assert (np.diff(answer.probs, axis=-1) <= 0).all()
        spread = params[offset : offset + n, :, :, 2:].permute(0, 2, 1, 3).numpy()
        assert answer.uncertainty is not None
        assert np.abs(answer.uncertainty - np.take_along_axis(spread, order, 1)).max() < 1e-4
        offset += n
    zone = 1 / (1 + np.exp(-coverage.numpy()))
    assert np.abs(np.array([a.zone_coverage for a in served]) - zone).max() < 1e-5

    api = create_app(ServeConfig(model_dir=out, access_log=False), load_model(out))
    with TestClient(api) as client:
        body = client.post("/predict", json={**requests[0], "frame_t": 0.3, "modes": 4}).json()
        version = client.get("/version").json()
        bad = client.post(
            "/predict", json={**requests[0], "game_context": {"down": 1, "distance": 10, "formation": 8}}
        )
    assert (
        version["architecture"] == "nfl_graph_transformer" and version["feature_contract"] == "nfl-graph-v1"
    )
    assert version["model"]["heads"] == 4 and version["model"]["num_gnn_layers"] == 4
    mode = body["predictions"][0]["modes"][0]
    assert len(mode["sigma_x"]) == len(mode["sigma_y"]) == len(mode["rho"]) == 10
    assert 0.0 < body["zone_coverage_probability"] < 1.0
    assert bad.status_code == 422 and "game_context.formation" in bad.json()["error"]["message"]


def test_a_compiled_deterministic_legacy_checkpoint_exports(tmp_path: Path) -> None:
    spec = GraphTransformerSpec(7, 24, 4, 4, 10, False)
    config = _config(tmp_path, input_dim=7, hidden_dim=24, heads=4, num_gnn_layers=4, probabilistic=False)
    checkpoint = _lightning(tmp_path / "run.ckpt", _weights(spec), prefix="model._orig_mod.")
    out = tmp_path / "exported"
    result = _export(
        str(config),
        "-c",
        str(checkpoint),
        "-o",
        str(out),
        "--formats",
        "onnx",
        "--quantize",
        "none",
        "--json",
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["feature_set"] == "legacy7" and manifest["model"]["modes"] == 1
    assert manifest["model"]["decoder_ffn"] == 2048 and manifest["parity"]["onnx"]["passed"]
    assert manifest["model"]["outputs"] == ["trajectories", "mode_probs", "coverage_logit"]


def test_a_bare_state_dict_without_prefix_exports(tmp_path: Path) -> None:
    """The form of the training project's nfl_best_model_state_dict.pt: the model's own keys, no prefix."""
    config = _config(tmp_path)
    checkpoint = tmp_path / "nfl_best_model_state_dict.pt"
    torch.save(_weights(SMALL, seed=2), checkpoint)
    out = tmp_path / "exported"
    result = _export(
        str(config), "-c", str(checkpoint), "-o", str(out), "--formats", "onnx", "--quantize", "none"
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["architecture"] == "nfl_graph_transformer"
        and manifest["checkpoint"]["hyper_parameters"] is None
    )


def _assert_failed_cleanly(result: Any, out: Path, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert not out.exists()


def test_bad_checkpoints_name_the_problem(tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = _weights(SMALL)
    checkpoint = _lightning(tmp_path / "good.ckpt", state)
    wrong_dim = _config(tmp_path, input_dim=7)
    _assert_failed_cleanly(
        _export(str(wrong_dim), "-c", str(checkpoint), "-o", str(out)), out, "input_dim 7", "9 node features"
    )
    config = _config(tmp_path)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"model.backbone.weight": torch.zeros(3, 3)}}, foreign)
    _assert_failed_cleanly(
        _export(str(config), "-c", str(foreign), "-o", str(out)),
        out,
        "matches no known architecture",
        "backbone",
    )
    reshaped = dict(state)
    reshaped["decoder.mode_prob_head.bias"] = torch.zeros(5)
    bad = _lightning(tmp_path / "bad.ckpt", reshaped)
    _assert_failed_cleanly(
        _export(str(config), "-c", str(bad), "-o", str(out)), out, "shape mismatch", "decoder.mode_prob_head"
    )


EXPORT_ONCE = """
import json, sys
from pathlib import Path
from nfldeploy.export.pipeline import ExportOptions, run_export
m = run_export(ExportOptions(config=Path(sys.argv[1]), checkpoint=Path(sys.argv[2]), out=Path(sys.argv[3]),
                             formats=("onnx",), quantize="none", heldout_plays=24)).model_dump(mode="json")
print(json.dumps({"parity": m["parity"], "accuracy": m["accuracy"], "onnx": m["artifacts"]["onnx"]["sha256"],
                  "golden": m["files"]["golden/outputs.json"]["sha256"]}))
"""


def test_the_same_checkpoint_gives_the_same_artifacts_and_gate_figures_in_every_process(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    checkpoint = _lightning(tmp_path / "run.ckpt", _weights(SMALL, seed=4))
    # two fresh processes, side by side (one per core): the flaky parity gate used to differ between them
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                EXPORT_ONCE,
                str(config),
                str(checkpoint),
                str(tmp_path / f"out{attempt}"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for attempt in range(2)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert results[0] == results[1]


def test_a_checkpoint_written_by_a_lightning_trainer_exports(tmp_path: Path) -> None:
    """A LightningModule shaped like the training project's (the model under ``model``, a SocialNCE loss
    module with parameters of its own, save_hyperparameters) fitted for a step by a real Trainer, whose
    checkpoint (loops, callbacks, optimizer states) is exported as it is."""
    pl = pytest.importorskip("pytorch_lightning")
    from torch.utils.data import DataLoader, TensorDataset

    class Predictor(pl.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(
            self, input_dim: int = 9, hidden_dim: int = 32, lr: float = 1e-3, num_modes: int = 4
        ) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.model = NFLGraphTransformer(
                GraphTransformerSpec(input_dim, hidden_dim, 4, 4, 10, True, num_modes)
            )
            self.social_nce_loss = torch.nn.Module()
            self.social_nce_loss.proj = torch.nn.Sequential(
                torch.nn.Linear(hidden_dim, hidden_dim // 2),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden_dim // 2, 32),
            )

        def training_step(self, batch: Any, _: int) -> torch.Tensor:
            return self.model.classifier(batch[0]).pow(2).mean()

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)

    trainer = pl.Trainer(
        max_steps=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path / "run"),
    )
    trainer.fit(Predictor(), DataLoader(TensorDataset(torch.randn(8, 32)), batch_size=4))
    checkpoint = tmp_path / "checkpoints" / "nfl_production_v2-epoch=00-val_ade=1.000.ckpt"
    trainer.save_checkpoint(checkpoint)
    config = _config(tmp_path)
    out = tmp_path / "exported"
    result = _export(
        str(config), "-c", str(checkpoint), "-o", str(out), "--formats", "onnx", "--quantize", "none"
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["architecture"] == "nfl_graph_transformer" and manifest["parity"]["onnx"]["passed"]
    assert manifest["checkpoint"]["hyper_parameters"] == {
        "input_dim": 9,
        "hidden_dim": 32,
        "lr": 0.001,
        "num_modes": 4,
    }
    assert len(manifest["checkpoint"]["ignored_keys"]) == 4 and manifest["model"]["modes"] == 4
