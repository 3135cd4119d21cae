"""From validated requests to model inputs, one model call, and responses in field coordinates."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from nfldeploy.model.contracts import get_contract, zone_probability
from nfldeploy.model.features import Play, PlayerState, constant_velocity, to_field_positions
from nfldeploy.serving.backends import LoadedModel
from nfldeploy.serving.schemas import PredictRequest

#: Deterministic models: confidence = exp(-d / CONFIDENCE_SCALE_YD), d = yards between the model's final
#: position and the constant-velocity extrapolation's (1 when the model expects the player to carry on).
CONFIDENCE_SCALE_YD = 5.0


@dataclass(frozen=True)
class PlayResult:
    """One play's model output: positions [n, M, T, 2] in the request's frame, probabilities [n, M], and
    when the model gives them (sigma_x, sigma_y, rho) [n, M, T, 3] and P(zone coverage)."""

    positions: npt.NDArray[np.float32]
    probs: npt.NDArray[np.float32]
    seconds: float  # the model call this play was part of
    uncertainty: npt.NDArray[np.float32] | None = None
    zone_coverage: float | None = None


class Predictor:
    """Runs plays through the loaded model with the export's feature pipeline."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        spec = model.manifest.model
        self.contract = get_contract(spec.feature_contract)
        self.feature_set = spec.feature_set
        self.horizon = spec.horizon
        self.modes = spec.modes
        self.frame_seconds = spec.frame_seconds
        self.version = model.version

    def run_plays(self, plays: Sequence[Play]) -> list[PlayResult]:
        """One model call for all ``plays``."""
        started = time.perf_counter()
        outputs = self.model.backend.run(self.contract.encode(plays, self.feature_set))
        positions = to_field_positions(outputs["trajectories"], plays)
        probs = outputs["mode_probs"]
        spread = outputs.get("uncertainty")  # a 180 deg rotation leaves sigmas and rho as they are
        logits = outputs.get("coverage_logit")
        zone = None if logits is None else zone_probability(logits)
        seconds = time.perf_counter() - started
        return [
            PlayResult(
                positions[i],
                probs[i, : len(play.players)],
                seconds,
                None if spread is None else spread[i, : len(play.players)],
                None if zone is None else float(zone[i]),
            )
            for i, play in enumerate(plays)
        ]

    def warm_up(self, max_batch: int = 1) -> None:
        """Run a full play and a one-player play, then ``max_batch`` full plays at once, so the first requests
        pay no first-call costs and the runtime's memory arena has already grown to the largest batch the
        server sends (otherwise resident memory creeps up over the first minutes of load)."""
        player = PlayerState(x=50.0, y=26.0, s=5.0, a=0.5, dis=0.5, o=90.0, dir=90.0)
        full = Play(players=[player] * 22, down=1, distance=10.0)
        self.run_plays([full, Play(players=[player], down=1, distance=10.0)])
        if max_batch > 1:
            self.run_plays([full] * max_batch)

    def respond(
        self, request: PredictRequest, play: Play, result: PlayResult, cached: bool
    ) -> dict[str, Any]:
        """The /predict response body for one play (positions as numpy arrays: serialize with ``to_json``)."""
        frames = request.num_frames_output or self.horizon
        positions = np.round(result.positions[:, :, :frames].astype(np.float64), 3)
        probs = result.probs
        best = probs.argmax(-1)
        if self.modes > 1:
            confidence = probs[np.arange(len(best)), best]
        else:
            baseline = constant_velocity([play], self.horizon)[0][:, -1]
            gap = np.linalg.norm(result.positions[:, 0, -1] - baseline, axis=-1)
            confidence = np.exp(-gap / CONFIDENCE_SCALE_YD)
        ids = [i if player.nfl_id is None else player.nfl_id for i, player in enumerate(request.players)]
        confidences = np.round(confidence.astype(np.float64), 4).tolist()
        chosen = positions[np.arange(len(best)), best]
        if self.modes == 1:
            predictions = [
                {"player_id": ids[i], "predicted_positions": chosen[i], "confidence": confidences[i]}
                for i in range(len(ids))
            ]
        else:
            order = np.argsort(-probs, axis=-1)
            ranked_probs = np.round(np.take_along_axis(probs, order, -1).astype(np.float64), 4).tolist()
            rows = np.arange(len(best))[:, None]
            ranked = positions[rows, order]  # [n, M, frames, 2], most likely first
            spread = None
            if result.uncertainty is not None:
                picked = result.uncertainty[rows, order, :frames].astype(np.float64)  # [n, M, frames, 3]
                spread = np.ascontiguousarray(np.round(np.moveaxis(picked, -1, 2), 4))  # [n, M, 3, frames]
            predictions = [
                {
                    "player_id": ids[i],
                    "predicted_positions": chosen[i],
                    "confidence": confidences[i],
                    "modes": [
                        _mode(p, ranked[i, m], None if spread is None else spread[i, m])
                        for m, p in enumerate(ranked_probs[i])
                    ],
                }
                for i in range(len(ids))
            ]
        body: dict[str, Any] = {
            "predictions": predictions,
            "horizon_frames": frames,
            "frame_seconds": self.frame_seconds,
            "inference_time_ms": round(result.seconds * 1000.0, 3),
            "model_version": self.version,
            "cached": cached,
        }
        if result.zone_coverage is not None:
            body["zone_coverage_probability"] = round(result.zone_coverage, 4)
        return body


def _mode(
    probability: float, positions: npt.NDArray[np.float64], spread: npt.NDArray[np.float64] | None
) -> dict[str, Any]:
    """One mode of a player's answer; with the model's uncertainty, per frame sigma_x, sigma_y (yards) and
    the correlation rho of its Gaussian."""
    mode: dict[str, Any] = {"probability": probability, "positions": positions}
    if spread is not None:
        mode["sigma_x"], mode["sigma_y"], mode["rho"] = spread[0], spread[1], spread[2]
    return mode


def to_json(body: dict[str, Any]) -> bytes:
    """JSON bytes of a response body, numpy arrays included."""
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
