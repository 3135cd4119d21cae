"""``nfldeploy export`` end to end on the example run and on other shapes of the training project's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nfldeploy.cli.app import app
from nfldeploy.config import load_training_config
from nfldeploy.export.runtimes import eager_runner, onnx_runner, torchscript_runner
from nfldeploy.model import build_model
from nfldeploy.records.manifest import sha256_file

pytestmark = pytest.mark.slow
runner = CliRunner()


def _export(*args: str) -> Any:
    return runner.invoke(app, ["export", *args])


def _write_config(tmp_path: Path, example_config: Path, **overrides: Any) -> Path:
    data = {**json.loads(example_config.read_text()), **overrides}
    path = tmp_path / "outputs" / f"{data['experiment_name']}_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _random_checkpoint(config_path: Path, path: Path, lightning: bool = True) -> Path:
    torch.manual_seed(0)
    state = build_model(load_training_config(config_path)).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {f"model.{k}": v for k, v in state.items()}} if lightning else state, path)
    return path


def test_cli_export_of_the_example(tmp_path: Path, example_config: Path) -> None:
    out = tmp_path / "exported_models"
    result = _export(str(example_config), "--out", str(out), "--formats", "onnx", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parity"]["onnx"]["passed"] and (out / "manifest.json").is_file()
    assert "exporting ONNX" in result.stderr  # progress goes to stderr, the JSON alone to stdout


def test_example_export_writes_every_artifact_and_the_manifest(example_export: Path) -> None:
    manifest = json.loads((example_export / "manifest.json").read_text())
    for name in ("model.onnx", "model.torchscript.pt", "golden/requests.json", "golden/outputs.json"):
        assert (example_export / name).is_file(), name
    assert (example_export / "nfl_production_v2_config.json").is_file()
    assert set(manifest["artifacts"]) >= {"onnx", "torchscript"}
    for name in ("onnx", "torchscript"):
        assert manifest["parity"][name]["passed"] and manifest["parity"][name]["max_abs_error"] < 1e-3
    for relative, entry in manifest["files"].items():
        assert sha256_file(example_export / relative) == entry["sha256"], relative
    assert (
        manifest["config"]["sha256"]
        == load_training_config(example_export / manifest["config"]["file"]).sha256
    )
    assert manifest["model"]["horizon"] == 10 and manifest["model"]["modes"] == 3
    assert manifest["library_versions"]["torch"].startswith("2.13")
    for name, file in (("onnx_int8", "model.int8.onnx"), ("torchscript_int8", "model.int8.torchscript.pt")):
        gate = manifest["accuracy"][name]
        assert (example_export / file).is_file() == gate["kept"] == (name in manifest["artifacts"])
        assert gate["int8"]["ade"] > 0 and gate["fp32"] == manifest["accuracy"]["fp32"]
    assert manifest["serving_default"] == "onnx"  # deterministic under micro-batching


def test_golden_outputs_are_the_models_outputs(example_export: Path) -> None:
    requests = json.loads((example_export / "golden/requests.json").read_text())
    outputs = json.loads((example_export / "golden/outputs.json").read_text())
    assert len(requests) == len(outputs) == 3
    assert {r["play_direction"] for r in requests} == {"left", "right"}
    for request, output in zip(requests, outputs, strict=True):
        n = len(request["players"])
        assert np.array(output["predicted_positions"]).shape == (n, 10, 2)
        assert np.array(output["modes"]).shape == (n, 3, 10, 2)
        np.testing.assert_allclose(np.array(output["mode_probs"]).sum(-1), 1.0, atol=1e-4)
        start = np.array([[p["x"], p["y"]] for p in request["players"]])
        first = np.array(output["predicted_positions"])[:, 0]
        assert np.abs(first - start).max() < 2.0  # one frame (0.1 s) cannot move a player 2 yards


@pytest.mark.parametrize("players", [1, 11, 23])
def test_onnx_and_torchscript_match_eager_on_random_inputs(
    example_export: Path, example_config: Path, players: int
) -> None:
    """Random graphs (not from the feature pipeline) through the example's artifacts and its eager model."""
    from nfldeploy.export.checkpoint import read_checkpoint
    from nfldeploy.model.contracts import GRAPH

    rng = np.random.default_rng(players)
    batch = 3
    adjacency = (rng.random((batch, players, players)) < 0.4).astype(np.float32)
    adjacency *= 1.0 - np.eye(players, dtype=np.float32)
    inputs: dict[str, Any] = {
        "node_features": rng.normal(size=(batch, players, 9)).astype(np.float32),
        "edge_attr": (rng.normal(size=(batch, players, players, 5)) * adjacency[..., None]).astype(
            np.float32
        ),
        "adjacency": adjacency,
        "roles": rng.integers(0, 5, (batch, players)),
        "sides": rng.integers(0, 3, (batch, players)),
        "history": rng.normal(0, 0.3, (batch, players, 4, 4)).astype(np.float32),
        "context": rng.normal(size=(batch, 3)).astype(np.float32),
        "formation": rng.integers(0, 8, batch),
        "alignment": rng.integers(0, 10, batch),
        "frame_t": rng.random(batch).astype(np.float32),
        "node_mask": np.ones((batch, players), np.float32),
    }
    inputs["node_mask"][1, players // 2 + 1 :] = 0.0  # a padded play in the batch
    assert tuple(inputs) == GRAPH.input_names
    state = read_checkpoint(example_config.parent.parent / "checkpoints/nfl_production_v2-best.ckpt").state
    model = build_model(load_training_config(example_config), "nfl_graph_transformer", state)
    model.load_state_dict(state)
    outputs = model.output_names
    names = (*GRAPH.input_names, "mode_ranks")
    for k in (1, 2, 3):  # the modes decoded: only the most likely ones
        inputs["mode_ranks"] = np.arange(k)
        eager = eager_runner(model.eval(), names, outputs)(inputs)
        assert eager["trajectories"].shape == (batch, players, k, 10, 2)
        for run in (
            onnx_runner(example_export / "model.onnx"),
            torchscript_runner(example_export / "model.torchscript.pt", names, outputs),
        ):
            result = run(inputs)
            for name in outputs:
                np.testing.assert_allclose(result[name], eager[name], atol=1e-4, err_msg=name)


@pytest.mark.parametrize(
    "overrides",
    [
        {
            "input_dim": 7,
            "num_gnn_layers": 6,
            "heads": 8,
            "hidden_dim": 128,
            "probabilistic": False,
            "num_modes": 1,
        },
        {"input_dim": 9, "hidden_dim": 128, "heads": 8, "probabilistic": True, "num_modes": 8},
    ],
    ids=["raw7-6layers-8heads-deterministic", "sincos9-hidden128-8modes"],
)
def test_other_training_configs_export(
    tmp_path: Path, example_config: Path, overrides: dict[str, Any]
) -> None:
    config = _write_config(tmp_path, example_config, experiment_name="variant", **overrides)
    _random_checkpoint(config, tmp_path / "checkpoints" / "variant-last.ckpt")
    out = tmp_path / "out"
    result = _export(str(config), "--out", str(out), "--json")  # checkpoint found through checkpoint_dir
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["parity"]["onnx"]["passed"] and summary["parity"]["torchscript"]["passed"]
    manifest = json.loads((out / "manifest.json").read_text())
    modes = overrides["num_modes"] if overrides["probabilistic"] else 1
    outputs = manifest["signature"]["outputs"]
    assert outputs[0]["shape"] == ["batch", "players", modes, 10, 2]
    assert manifest["model"]["feature_set"] == ("raw7" if overrides["input_dim"] == 7 else "sincos9")


def test_plain_state_dict_checkpoint(tmp_path: Path, example_config: Path) -> None:
    config = _write_config(tmp_path, example_config)
    checkpoint = _random_checkpoint(config, tmp_path / "weights.pt", lightning=False)
    out = tmp_path / "out"
    result = _export(
        str(config),
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(out),
        "--formats",
        "onnx",
        "--quantize",
        "none",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("model*")) == ["model.onnx"]


def _assert_failed_cleanly(result: Any, out: Path, code: int, *needles: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.stderr
    assert not out.exists() or sorted(out.iterdir()) == []
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


class _Opaque:
    """A Python object a checkpoint should not hold (a callback's state pickled as an object)."""


@pytest.mark.parametrize(
    ("kind", "needle"),
    [
        ("empty", "is empty (0 bytes)"),
        ("truncated", "is truncated or corrupt"),
        ("corrupt zip", "is truncated or corrupt"),
        ("text", "is not a PyTorch checkpoint"),
        ("pickled object", "holds Python objects besides tensors"),
    ],
)
def test_an_unreadable_checkpoint_is_one_clear_line(
    tmp_path: Path, example_config: Path, kind: str, needle: str
) -> None:
    """Exit 1 naming the file and what is wrong: never torch's own text, and never its advice to load with
    weights_only=False (which would run the file's pickled code)."""
    source = example_config.parent.parent / "checkpoints/nfl_production_v2-best.ckpt"
    bad = tmp_path / "bad.ckpt"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(source.read_bytes()[:50_000])
    elif kind == "corrupt zip":
        bad.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    elif kind == "text":
        bad.write_text("epoch,loss\n1,0.5\n")
    else:
        torch.save({"state_dict": {"w": torch.zeros(1)}, "callbacks": _Opaque()}, bad)
    out = tmp_path / "out"
    result = _export(str(example_config), "-c", str(bad), "-o", str(out))
    _assert_failed_cleanly(result, out, 1, needle, str(bad))
    assert "weights_only" not in result.output and "Re-running" not in result.output
    assert len(result.stderr.strip().splitlines()) <= 3  # the error and its hint


def test_checkpoint_of_the_wrong_shape(tmp_path: Path, example_config: Path) -> None:
    bigger = _write_config(tmp_path, example_config, experiment_name="bigger", hidden_dim=128)
    checkpoint = _random_checkpoint(bigger, tmp_path / "bigger.ckpt")
    out = tmp_path / "out"
    result = _export(str(example_config), "-c", str(checkpoint), "-o", str(out))
    _assert_failed_cleanly(result, out, 1, "does not fit", "shape mismatch", "[128")


def test_missing_checkpoint_and_config(tmp_path: Path, example_config: Path) -> None:
    out = tmp_path / "out"
    _assert_failed_cleanly(
        _export(str(example_config), "-c", str(tmp_path / "nope.ckpt"), "-o", str(out)),
        out,
        1,
        "checkpoint not found",
    )
    _assert_failed_cleanly(_export(str(tmp_path / "nope.json"), "-o", str(out)), out, 1, "not found")


def test_config_without_model_keys(tmp_path: Path) -> None:
    config = tmp_path / "run_config.json"
    config.write_text(json.dumps({"experiment_name": "x", "learning_rate": 0.001, "batch_size": 8}))
    out = tmp_path / "out"
    _assert_failed_cleanly(_export(str(config), "-o", str(out)), out, 1, "no model keys")


def test_parity_failure_exits_3_and_keeps_the_previous_export(tmp_path: Path, example_config: Path) -> None:
    config = _write_config(tmp_path, example_config)
    checkpoint = _random_checkpoint(config, tmp_path / "c.ckpt")
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("an earlier export")
    result = _export(
        str(config), "-c", str(checkpoint), "-o", str(out), "--architecture", "custom_models:DriftingModel"
    )
    assert result.exit_code == 3, result.output
    assert "onnx does not match the eager model" in result.stderr and "max abs error 0.5" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["previous.txt"]


def test_int8_dropped_past_its_tolerance(tmp_path: Path, example_config: Path) -> None:
    from nfldeploy.export.pipeline import ExportOptions, run_export

    out = tmp_path / "out"
    manifest = run_export(ExportOptions(config=example_config, out=out, int8_tolerance=-1.0)).model_dump()
    for name in ("onnx_int8", "torchscript_int8"):
        assert manifest["accuracy"][name]["kept"] is False
        assert "INT8 dropped" in manifest["accuracy"][name]["reason"]
        assert name not in manifest["artifacts"]
    assert not list(out.glob("model.int8.*")) and manifest["serving_default"] == "onnx"


def test_bad_options(tmp_path: Path, example_config: Path) -> None:
    out = tmp_path / "out"
    result = _export(str(example_config), "-o", str(out), "--formats", "onnx,tflite")
    _assert_failed_cleanly(result, out, 2, "tflite not among: onnx, torchscript")  # a usage error
    result = _export(str(example_config), "-o", str(out), "--quantize", "int4")
    _assert_failed_cleanly(result, out, 2, "'int4' is not one of")
