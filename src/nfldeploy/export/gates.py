"""The parity gate (exported artifact vs eager) and the accuracy gate for INT8 (vs FP32, on held-out truth)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from nfldeploy.export.runtimes import Outputs, as_float
from nfldeploy.model.features import Play, best_mode, to_field_positions
from nfldeploy.model.metrics import trajectory_metrics
from nfldeploy.model.modes import PER_MODE, pick, ranked


@dataclass(frozen=True)
class Parity:
    """How far an artifact's outputs are from eager's on the same inputs."""

    max_abs_error: float  # yards, over every mode, frame and player
    max_prob_error: float
    rmse_delta: float  # |RMSE(artifact) - RMSE(eager)| against the held-out truth, yards
    tolerance: float
    passed: bool
    output_errors: dict[str, float]  # max abs error of every output by name (sigmas, coverage logit, ...)
    top1_error: float | None = None  # decoding only the most likely mode, against eager's full decode

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def field_predictions(outputs: Outputs, plays: Sequence[Play]) -> list[npt.NDArray[np.float32]]:
    """Most likely mode's absolute positions per play: [n_players, T, 2] each."""
    top = best_mode(as_float(outputs, "trajectories"), as_float(outputs, "mode_probs"))[:, :, None]
    return [positions[:, 0] for positions in to_field_positions(top, plays)]


def accuracy(
    outputs: Outputs, plays: Sequence[Play], truth: Sequence[npt.NDArray[np.float32]]
) -> dict[str, float]:
    """RMSE / ADE / FDE of the most likely mode against the truth."""
    return trajectory_metrics(field_predictions(outputs, plays), truth)


def parity(
    eager: Outputs,
    candidate: Outputs,
    plays: Sequence[Play],
    truth: Sequence[npt.NDArray[np.float32]],
    tolerance: float,
) -> Parity:
    """Compare every output of a candidate with eager's; padded rows are zero in both and do not count."""
    errors = {name: float(np.abs(as_float(candidate, name) - as_float(eager, name)).max()) for name in eager}
    delta = abs(accuracy(candidate, plays, truth)["rmse"] - accuracy(eager, plays, truth)["rmse"])
    passed = all(error <= tolerance for error in errors.values()) and delta <= tolerance
    return Parity(errors["trajectories"], errors["mode_probs"], delta, tolerance, passed, errors)


@dataclass(frozen=True)
class AccuracyGate:
    """INT8 is kept only when its ADE is within ``tolerance`` (relative) of FP32's."""

    fp32: dict[str, float]
    int8: dict[str, float]
    tolerance: float
    kept: bool
    reason: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return asdict(self)


def int8_gate(fp32: dict[str, float], int8: dict[str, float], tolerance: float) -> AccuracyGate:
    """Decide whether to keep the INT8 artifact."""
    limit = fp32["ade"] * (1.0 + tolerance)
    change = int8["ade"] / fp32["ade"] - 1.0 if fp32["ade"] else 0.0
    if int8["ade"] <= limit:
        reason = f"INT8 ADE {int8['ade']:.4f} yd is within {tolerance:.1%} of FP32 {fp32['ade']:.4f} ({change:+.2%})"
        return AccuracyGate(fp32, int8, tolerance, True, reason)
    reason = (
        f"INT8 dropped: ADE {int8['ade']:.4f} yd is {change:+.2%} against FP32 {fp32['ade']:.4f}, "
        f"past the {tolerance:.1%} tolerance"
    )
    return AccuracyGate(fp32, int8, tolerance, False, reason)


def top_k_error(full: Outputs, top: Outputs) -> float:
    """Largest difference between a top-k decode and the same modes of the full decode (inf when it
    decoded other modes, or the same ones in another order)."""
    expected = ranked(full, np.asarray(top["mode_index"]).shape[-1])
    if not np.array_equal(expected["mode_index"], top["mode_index"]):
        return float("inf")
    return max(
        float(np.abs(as_float(top, name) - as_float(expected, name)).max())
        for name in PER_MODE
        if name in top
    )


def top1_error(full: Outputs, top1: Outputs) -> float:
    """An artifact's decode of its most likely mode against eager's full decode of the mode it chose, and its
    probability against eager's largest (robust to near ties, where either mode is right)."""
    chosen = pick(full, np.asarray(top1["mode_index"]))
    gaps = [float(np.abs(as_float(top1, "mode_probs")[..., 0] - as_float(full, "mode_probs").max(-1)).max())]
    gaps += [float(np.abs(as_float(top1, name) - as_float(chosen, name)).max()) for name in chosen]
    return max(gaps)
