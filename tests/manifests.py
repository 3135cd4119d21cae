"""Export manifests for tests that need one without exporting: complete, with placeholder figures."""

from __future__ import annotations

from typing import Any

from nfldeploy.records.manifest import Manifest

_BASE: dict[str, Any] = {
    "schema_version": 1,
    "created_at": "2026-11-28T00:00:00+00:00",
    "experiment_name": "nfl_production_v2",
    "architecture": "nfl_graph_transformer",
    "config": {
        "file": "run_config.json",
        "sha256": "07ddda2891bd78242e64c2781cc6666157e253a8dd2c5feca12a1f369bc4b3f4",
    },
    "checkpoint": {"source": "best.ckpt", "sha256": "c4" * 32},
    "model": {"horizon": 10, "modes": 3, "max_players": 23, "history_len": 5},
    "signature": {"contract": "nfl-graph-v1", "inputs": [], "outputs": [], "max_players": 23},
    "artifacts": {
        "onnx": {
            "file": "model.onnx",
            "format": "onnx",
            "precision": "fp32",
            "bytes": 1,
            "sha256": "5e" * 32,
        },
        "torchscript": {
            "file": "model.torchscript.pt",
            "format": "torchscript",
            "precision": "fp32",
            "bytes": 1,
            "sha256": "7a" * 32,
        },
    },
    "serving_default": "onnx",
    "parity": {},
    "accuracy": {"fp32": {"rmse": 0.5, "ade": 0.3, "fde": 0.8}},
    "heldout": {"plays": 96, "seed": 7919},
    "golden": {"requests": "golden/requests.json", "outputs": "golden/outputs.json", "tolerance": {}},
}


def sample_manifest(**replace: Any) -> Manifest:
    """A valid manifest; ``replace`` swaps whole top-level sections."""
    return Manifest.model_validate({**_BASE, **replace})
