"""Trajectory metrics in yards (numpy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def _errors(pred: Sequence[npt.NDArray[np.float32]], truth: Sequence[npt.NDArray[np.float32]]) -> np.ndarray:
    if len(pred) != len(truth):
        raise ValueError("prediction and truth hold different numbers of plays")
    return np.concatenate(
        [
            (np.asarray(p) - np.asarray(t)).reshape(-1, *np.shape(t)[-2:])
            for p, t in zip(pred, truth, strict=True)
        ]
    )


def trajectory_metrics(
    pred: Sequence[npt.NDArray[np.float32]], truth: Sequence[npt.NDArray[np.float32]]
) -> dict[str, float]:
    """RMSE = sqrt(mean over players and frames of (dx^2 + dy^2) / 2); ADE / FDE = mean / final
    Euclidean displacement error. Each item is one play: [n_players, T, 2] absolute positions."""
    diff = _errors(pred, truth)  # [N, T, 2]
    dist = np.sqrt((diff**2).sum(-1))
    return {
        "rmse": float(np.sqrt(((diff**2).sum(-1) / 2.0).mean())),
        "ade": float(dist.mean()),
        "fde": float(dist[:, -1].mean()),
    }
