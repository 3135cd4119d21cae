"""The export pipeline: checkpoint -> artifacts, gates, golden requests, manifest, written atomically."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from nfldeploy.config import load_training_config
from nfldeploy.errors import ConfigError, ParityError
from nfldeploy.export import batch_cost, formats, gates, golden
from nfldeploy.export.checkpoint import load_weights, read_checkpoint, resolve_checkpoint
from nfldeploy.export.heldout import HELDOUT_SEED, heldout_samples
from nfldeploy.export.layout import ARTIFACT_FILES, DEFAULT_OUT, FORMATS
from nfldeploy.export.model_shape import describe
from nfldeploy.export.runtimes import (
    Runner,
    eager_runner,
    in_mode_order,
    onnx_runner,
    single_threaded_torch,
    torchscript_runner,
)
from nfldeploy.model import build_model, detect_architecture
from nfldeploy.model.features import HISTORY_LEN, MAX_PLAYERS
from nfldeploy.model.graph_features import CONTRACT as GRAPH_CONTRACT
from nfldeploy.model.graph_features import HISTORY_FRAMES
from nfldeploy.model.modes import with_ranks
from nfldeploy.records.golden import write_golden
from nfldeploy.records.manifest import Manifest, sha256_file, write_manifest
from nfldeploy.staging import staged_directory


@dataclass
class ExportOptions:
    """What ``nfldeploy export`` was asked to do."""

    config: Path
    checkpoint: Path | None = None
    formats: tuple[str, ...] = FORMATS
    quantize: str = "int8"
    out: Path = DEFAULT_OUT
    architecture: str | None = None  # None: detected from the checkpoint's keys
    parity_tolerance: float = 1e-3  # yards (and probability) between eager and an FP32 artifact
    top_k_tolerance: float = 1e-5  # yards: eager decoding only the top k modes vs its full decode
    int8_tolerance: float = 0.02  # relative ADE increase INT8 may cost before it is dropped
    heldout_plays: int = 96
    on_step: Callable[[str], None] = field(default=lambda _step: None)


def _validate(options: ExportOptions) -> None:
    unknown = [name for name in options.formats if name not in FORMATS]
    if unknown or not options.formats:
        raise ConfigError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    if options.quantize not in ("int8", "none"):
        raise ConfigError(f"--quantize must be int8 or none, got {options.quantize!r}")


def run_export(options: ExportOptions) -> Manifest:
    """Export and verify; returns the manifest. Nothing is written to ``options.out`` unless all passes.

    torch runs on one thread throughout, so that the same checkpoint gives the same gate figures in every
    process (see ``single_threaded_torch``)."""
    _validate(options)
    with single_threaded_torch():
        return _export(options)


def _export(options: ExportOptions) -> Manifest:
    step = options.on_step
    started = time.perf_counter()
    step("reading the config and checkpoint")
    config = load_training_config(options.config)
    checkpoint = resolve_checkpoint(config, options.checkpoint)
    loaded = read_checkpoint(checkpoint)
    architecture = options.architecture or detect_architecture(loaded.state, str(checkpoint))
    model = build_model(config, architecture, loaded.state)
    load_weights(model, loaded.state, checkpoint)
    model.eval()
    shape = describe(model, config, architecture, checkpoint)
    contract, feature_set = shape.contract, shape.feature_set

    step("simulating the held-out plays")
    samples = heldout_samples(shape.horizon, options.heldout_plays)
    plays, truth = [p for p, _ in samples], [t for _, t in samples]
    inputs = contract.encode(plays, feature_set)

    def ordered(run: Runner) -> Runner:  # a mode-selecting model asked for every mode, in mode-id order
        return in_mode_order(run, shape.modes) if shape.selects_modes else run

    eager_top = eager_runner(model, shape.input_names, shape.output_names)
    eager = ordered(eager_top)
    eager_out = eager(inputs)
    full_out = eager_out
    top_k: dict[str, Any] | None = None
    if shape.selects_modes:
        step("checking top-k decoding against the full decode")
        full_out = eager_runner(model, contract.input_names, shape.full_output_names)(inputs)
        top_k = _check_top_k(full_out, eager_top, inputs, shape.modes, options.top_k_tolerance)
    small = contract.encode(plays[:2], feature_set)
    if shape.selects_modes:
        small = with_ranks(small, 2)  # at least 2: torch.export takes a size of 1 as a constant
    example = tuple(_tensor(small[name]) for name in shape.input_names)

    golden_plays = golden.pick_golden(samples)
    golden_eager = golden.golden_outputs(eager, golden_plays, contract, feature_set)
    artifacts: dict[str, dict[str, Any]] = {}
    parity: dict[str, dict[str, Any]] = {}
    golden_tolerance: dict[str, float] = {}
    accuracy: dict[str, Any] = {"fp32": gates.accuracy(eager_out, plays, truth)}

    def check(name: str, path: Path, raw: Runner, precision: str) -> None:
        run = ordered(raw)
        result = gates.parity(eager_out, run(inputs), plays, truth, options.parity_tolerance)
        if shape.selects_modes:  # and decoding only the most likely mode, as the API does by default
            error = gates.top1_error(full_out, raw(with_ranks(inputs, 1)))
            passed = result.passed and error <= options.parity_tolerance
            result = replace(result, top1_error=error, passed=passed)
        if precision == "fp32" and not result.passed:
            raise ParityError(
                f"{name} does not match the eager model: max abs error {result.max_abs_error:.3g} yd, "
                f"probability error {result.max_prob_error:.3g}, RMSE delta {result.rmse_delta:.3g} yd"
                + ("" if result.top1_error is None else f", top-1 decode error {result.top1_error:.3g} yd")
                + f" (tolerance {options.parity_tolerance:g})",
                hint="Check the architecture for ops the exporter changes; nothing was written.",
            )
        parity[name] = result.as_dict()
        alone = [golden.golden_outputs(run, [play], contract, feature_set)[0] for play in golden_plays]
        deviation = golden.max_deviation(golden_eager, alone)  # smoke tests send golden plays one by one
        golden_tolerance[name] = options.parity_tolerance if precision == "fp32" else max(3 * deviation, 0.05)
        artifacts[name] = {
            "file": path.name,
            "format": name.split("_")[0],
            "precision": precision,
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
        }

    def script_runner(path: Path) -> Runner:
        return torchscript_runner(path, shape.input_names, shape.output_names)

    with staged_directory(options.out) as stage:
        if "onnx" in options.formats:
            step("exporting ONNX (torch.export, dynamic batch and players)")
            path = stage / ARTIFACT_FILES["onnx"]
            formats.export_onnx(model, example, path, shape.inputs, shape.output_names, shape.modes)
            step("checking ONNX parity")
            check("onnx", path, onnx_runner(path), "fp32")
        if "torchscript" in options.formats:
            step("exporting TorchScript")
            path = stage / ARTIFACT_FILES["torchscript"]
            formats.export_torchscript(model, example, path)
            step("checking TorchScript parity")
            check("torchscript", path, script_runner(path), "fp32")
        if options.quantize == "int8":
            for name in [f"{fmt}_int8" for fmt in options.formats]:
                step(f"quantizing {name.split('_')[0]} to INT8 and checking its accuracy")
                path = stage / ARTIFACT_FILES[name]
                if name == "onnx_int8":
                    formats.quantize_onnx(stage / ARTIFACT_FILES["onnx"], path)
                    run = onnx_runner(path)
                else:
                    formats.export_torchscript(model, example, path, int8=True)
                    run = script_runner(path)
                int8_metrics = gates.accuracy(ordered(run)(inputs), plays, truth)
                gate = gates.int8_gate(accuracy["fp32"], int8_metrics, options.int8_tolerance)
                accuracy[name] = gate.as_dict()
                if gate.kept:
                    check(name, path, run, "int8")
                else:
                    path.unlink()

        serve_default = next(name for name in ("onnx", "torchscript") if name in artifacts)
        step(f"timing {serve_default} at batches of {', '.join(map(str, batch_cost.BATCH_SIZES))} plays")
        default_path = stage / ARTIFACT_FILES[serve_default]
        timed = onnx_runner(default_path) if serve_default == "onnx" else script_runner(default_path)
        full_play = next(play for play in plays if len(play.players) == max(len(p.players) for p in plays))

        def inputs_for(size: int) -> dict[str, Any]:
            encoded = contract.encode([full_play] * size, feature_set)
            return with_ranks(encoded, 1) if shape.selects_modes else encoded

        batching = batch_cost.measure(timed, inputs_for, serve_default)

        step("writing golden requests and the manifest")
        golden_files = write_golden(stage, golden.requests(golden_plays), golden_eager, golden_tolerance)
        config_copy = f"{config.experiment_name}_config.json"
        shutil.copyfile(options.config, stage / config_copy)
        manifest = write_manifest(
            stage,
            experiment_name=config.experiment_name,
            architecture=architecture,
            config={"file": config_copy, "sha256": config.sha256, "source": str(options.config)},
            checkpoint={
                "source": str(checkpoint),
                "sha256": sha256_file(checkpoint),
                "hyper_parameters": loaded.hyper_parameters,
                "ignored_keys": list(loaded.dropped),
            },
            model={
                **shape.params,
                "feature_contract": contract.name,
                "feature_set": feature_set,
                "horizon": shape.horizon,
                "frame_seconds": 0.1,
                "modes": shape.modes,
                "outputs": list(shape.output_names),
                "max_players": MAX_PLAYERS,
                # prior positions the feature pipeline reads per player
                "history_len": HISTORY_FRAMES if contract.name == GRAPH_CONTRACT else HISTORY_LEN,
            },
            signature=contract.signature(
                shape.input_dim, shape.modes, shape.horizon, shape.output_names, shape.inputs
            ),
            artifacts=artifacts,
            serving_default=serve_default,  # FP32: INT8's per-batch activation scales make a play's answer
            # depend on the plays micro-batched with it (INT8 stays available by name)
            batching=batching,
            parity=parity,
            top_k=top_k,
            accuracy=accuracy,
            heldout={"plays": len(samples), "seed": HELDOUT_SEED},
            golden=golden_files,
            warnings=[*config.warnings, *shape.warnings],
            export_seconds=round(time.perf_counter() - started, 1),
        )
    return manifest


def _check_top_k(
    full: dict[str, Any], top: Runner, inputs: dict[str, Any], modes: int, tolerance: float
) -> dict[str, Any]:
    """Eager decoding only the 1 and the ``modes`` most likely modes gives the full decode's values for them,
    in the same order; ParityError otherwise."""
    errors = {str(k): gates.top_k_error(full, top(with_ranks(inputs, k))) for k in sorted({1, modes})}
    worst = max(errors.values())
    if worst > tolerance:
        raise ParityError(
            f"decoding only the most likely modes differs from the full decode by {worst:.3g} yd "
            f"(k: error {errors}; tolerance {tolerance:g})",
            hint="The model's modes must be decoded independently of each other; nothing was written.",
        )
    return {"k": [int(k) for k in errors], "max_abs_error": worst, "tolerance": tolerance, "passed": True}


def _tensor(array: Any) -> Any:
    import torch

    return torch.from_numpy(array)
