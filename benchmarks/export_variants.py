"""Latency per play of eager, TorchScript (FP32, INT8), ONNX FP32 and ONNX INT8, side by side in one run.

    python benchmarks/export_variants.py [EXPORT_DIR] [--rounds 7] [--json]

Every variant runs the same encoded held-out plays (22 players) with one thread, at batch 1 and batch 32;
rounds interleave the variants so that machine noise hits all of them alike. Prints the median latency per
play over rounds, the ratio to eager, the size on disk and each variant's held-out RMSE. EXPORT_DIR defaults
to outputs/exported_models (exported from the example first when missing).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nfldeploy.config import load_training_config
from nfldeploy.export.checkpoint import load_weights, read_checkpoint
from nfldeploy.export.gates import accuracy
from nfldeploy.export.heldout import heldout_samples
from nfldeploy.export.pipeline import ExportOptions, run_export
from nfldeploy.export.runtimes import Runner, eager_runner, onnx_runner, torchscript_runner
from nfldeploy.model import build_model
from nfldeploy.model.contracts import get_contract
from nfldeploy.records.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "nfl_production_v2_config.json"


def _variants(folder: Path, manifest: dict[str, Any]) -> dict[str, tuple[Runner, int]]:
    config = load_training_config(folder / manifest["config"]["file"])
    checkpoint = Path(manifest["checkpoint"]["source"])
    state = read_checkpoint(checkpoint).state
    model = build_model(config, manifest["architecture"], state)
    load_weights(model, state, checkpoint)
    names = [item["name"] for item in manifest["signature"]["inputs"]]
    outputs = manifest["model"]["outputs"]
    variants: dict[str, tuple[Runner, int]] = {
        "eager": (eager_runner(model.eval(), names, outputs), checkpoint.stat().st_size)
    }
    files = {name: folder / art["file"] for name, art in manifest["artifacts"].items()}
    if "torchscript" in files:
        variants["torchscript"] = (
            torchscript_runner(files["torchscript"], names, outputs),
            files["torchscript"].stat().st_size,
        )
    if "onnx" in files:
        variants["onnx_fp32"] = (onnx_runner(files["onnx"]), files["onnx"].stat().st_size)
    if "torchscript_int8" in files:
        path = files["torchscript_int8"]
        variants["torchscript_int8"] = (torchscript_runner(path, names, outputs), path.stat().st_size)
    if "onnx_int8" in files:
        variants["onnx_int8"] = (onnx_runner(files["onnx_int8"]), files["onnx_int8"].stat().st_size)
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export_dir", nargs="?", type=Path, default=ROOT / "outputs" / "exported_models")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--modes", type=int, default=0, help="modes decoded (default: every mode)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    folder = args.export_dir
    if not (folder / "manifest.json").exists():
        folder = Path(tempfile.mkdtemp()) / "exported_models"
        run_export(ExportOptions(config=EXAMPLE, out=folder))
    manifest = read_manifest(folder).model_dump(mode="json")
    variants = _variants(folder, manifest)
    samples = [s for s in heldout_samples(manifest["model"]["horizon"], 96) if len(s[0].players) == 22][:32]
    plays, truth = [p for p, _ in samples], [t for _, t in samples]
    feature_set = manifest["model"]["feature_set"]
    contract = get_contract(manifest["model"]["feature_contract"])
    inputs = {1: contract.encode(plays[:1], feature_set), 32: contract.encode(plays, feature_set)}
    if any(item["name"] == "mode_ranks" for item in manifest["signature"]["inputs"]):
        modes = args.modes or manifest["model"]["modes"]  # how many of the most likely modes are decoded
        for encoded in inputs.values():
            encoded["mode_ranks"] = np.arange(modes)
    calls = {1: 200, 32: 10}
    timings: dict[str, dict[int, list[float]]] = {name: {1: [], 32: []} for name in variants}
    for run, _ in variants.values():  # warm-up
        run(inputs[1])
        run(inputs[32])
    for _ in range(args.rounds):
        for batch in (1, 32):
            for name, (run, _) in variants.items():
                start = time.perf_counter()
                for _ in range(calls[batch]):
                    run(inputs[batch])
                elapsed = time.perf_counter() - start
                timings[name][batch].append(elapsed / calls[batch] / batch * 1000.0)
    results = {}
    for name, (run, size) in variants.items():
        results[name] = {
            "ms_per_play_batch1": statistics.median(timings[name][1]),
            "ms_per_play_batch32": statistics.median(timings[name][32]),
            "bytes": size,
            "rmse": accuracy(run(inputs[32]), plays, truth)["rmse"],
        }
    base = results["eager"]
    for entry in results.values():
        entry["speedup_batch1"] = base["ms_per_play_batch1"] / entry["ms_per_play_batch1"]
        entry["speedup_batch32"] = base["ms_per_play_batch32"] / entry["ms_per_play_batch32"]
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} thread, torch {torch.__version__}"
    if args.json:
        print(json.dumps({"machine": machine, "rounds": args.rounds, "results": results}, indent=2))
        return
    print(f"{manifest['experiment_name']}: 22 players per play, median of {args.rounds} rounds, {machine}")
    print(
        f"{'variant':<17} {'ms/play b1':>11} {'x eager':>8} {'ms/play b32':>12} {'x eager':>8} {'size KiB':>9} {'RMSE yd':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<17} {r['ms_per_play_batch1']:>11.3f} {r['speedup_batch1']:>8.2f} {r['ms_per_play_batch32']:>12.3f} "
            f"{r['speedup_batch32']:>8.2f} {r['bytes'] / 1024:>9.0f} {r['rmse']:>8.4f}"
        )


if __name__ == "__main__":
    main()
