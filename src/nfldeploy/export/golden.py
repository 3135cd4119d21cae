"""Golden requests (a few held-out plays as API request bodies) and the eager model's outputs for them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nfldeploy.export.heldout import Sample
from nfldeploy.export.runtimes import Outputs, Runner, as_float
from nfldeploy.model.contracts import Contract, zone_probability
from nfldeploy.model.features import Play, play_to_request, to_field_positions


def pick_golden(samples: Sequence[Sample]) -> list[Play]:
    """A full play moving right, one moving left, and a smaller play, from the held-out set."""
    full = [play for play, _ in samples if len(play.players) >= 22]
    right = next(p for p in full if p.play_direction == "right")
    left = next(p for p in full if p.play_direction == "left")
    small = next(play for play, _ in samples if 1 < len(play.players) < 22)
    return [right, left, small]


def golden_outputs(
    run: Runner, plays: Sequence[Play], contract: Contract, feature_set: str
) -> list[dict[str, Any]]:
    """Per play: the modes' absolute positions and their probabilities (and, when the model gives them,
    each mode's sigma_x, sigma_y, rho per frame and the zone-coverage probability), rounded for JSON."""
    return _as_json(plays, run(contract.encode(plays, feature_set)))


def _as_json(plays: Sequence[Play], outputs: Outputs) -> list[dict[str, Any]]:
    probs = as_float(outputs, "mode_probs")
    zone = zone_probability(outputs["coverage_logit"]) if "coverage_logit" in outputs else None
    result = []
    for index, positions in enumerate(to_field_positions(as_float(outputs, "trajectories"), plays)):
        n = len(plays[index].players)
        mode_probs = probs[index, :n]
        best = mode_probs.argmax(-1)
        entry: dict[str, Any] = {
            "predicted_positions": np.round(positions[np.arange(n), best], 4).tolist(),
            "modes": np.round(positions, 4).tolist(),
            "mode_probs": np.round(mode_probs, 6).tolist(),
        }
        if "uncertainty" in outputs:
            entry["uncertainty"] = np.round(as_float(outputs, "uncertainty")[index, :n], 5).tolist()
        if zone is not None:
            entry["zone_coverage_probability"] = round(float(zone[index]), 6)
        result.append(entry)
    return result


def max_deviation(reference: list[dict[str, Any]], candidate: list[dict[str, Any]]) -> float:
    """Largest absolute difference of mode positions between two golden output sets, in yards."""
    return max(
        float(np.abs(np.array(a["modes"]) - np.array(b["modes"])).max())
        for a, b in zip(reference, candidate, strict=True)
    )


def requests(plays: Sequence[Play]) -> list[dict[str, object]]:
    """The API request bodies."""
    return [play_to_request(play) for play in plays]
