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
from nfldeploy.model.modes import MODE_RANKS, ranked, with_ranks
from nfldeploy.serving.backends import LoadedModel
from nfldeploy.serving.schemas import PredictRequest

#: Deterministic models: confidence = exp(-d / CONFIDENCE_SCALE_YD), d = yards between the model's final
#: position and the constant-velocity extrapolation's (1 when the model expects the player to carry on).
CONFIDENCE_SCALE_YD = 5.0


@dataclass(frozen=True)
class PlayResult:
    """One play's model output for its k most likely modes, most likely first: positions [n, k, T, 2] in the
    request's frame, their probabilities [n, k] and mode ids [n, k], every mode's probability [n, K], and
    when the model gives them (sigma_x, sigma_y, rho) [n, k, T, 3] and P(zone coverage)."""

    positions: npt.NDArray[np.float32]
    probs: npt.NDArray[np.float32]
    seconds: float  # the model call this play was part of
    uncertainty: npt.NDArray[np.float32] | None = None
    zone_coverage: float | None = None
    mode_index: npt.NDArray[np.int64] | None = None
    all_probs: npt.NDArray[np.float32] | None = None


#: One play and how many of its most likely modes to decode: what the batcher queues.
Job = tuple[Play, int]


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
        # exports by this release decode only the modes asked for; earlier ones decode every mode
        self.selects_modes = MODE_RANKS in {item.name for item in model.manifest.signature.inputs}

    def run_plays(self, plays: Sequence[Play], modes: int | Sequence[int] = 1) -> list[PlayResult]:
        """One model call for all ``plays``, decoding the ``modes`` most likely modes of each (one number for
        all, or one per play; the call decodes the largest and each play keeps its own)."""
        started = time.perf_counter()
        wanted = [modes] * len(plays) if isinstance(modes, int) else list(modes)
        k = max(1, min(max(wanted), self.modes))
        inputs = self.contract.encode(plays, self.feature_set)
        if self.selects_modes:
            outputs = self.model.backend.run(with_ranks(inputs, k))
        else:
            outputs = ranked(self.model.backend.run(inputs), k)
        positions = to_field_positions(outputs["trajectories"], plays)
        spread = outputs.get("uncertainty")  # a 180 deg rotation leaves sigmas and rho as they are
        logits = outputs.get("coverage_logit")
        zone = None if logits is None else zone_probability(logits)
        seconds = time.perf_counter() - started
        results = []
        for i, play in enumerate(plays):
            n, keep = len(play.players), min(wanted[i], k)
            results.append(
                PlayResult(
                    positions[i][:, :keep],
                    outputs["mode_probs"][i, :n, :keep],
                    seconds,
                    None if spread is None else spread[i, :n, :keep],
                    None if zone is None else float(zone[i]),
                    outputs["mode_index"][i, :n, :keep].astype(np.int64),
                    outputs["all_mode_probs"][i, :n],
                )
            )
        return results

    def run_jobs(self, jobs: Sequence[Job]) -> list[PlayResult]:
        """``run_plays`` for (play, modes) pairs."""
        return self.run_plays([play for play, _ in jobs], [modes for _, modes in jobs])

    def warm_up(self, max_batch: int = 1) -> None:
        """Run a full play and a one-player play, then ``max_batch`` full plays at once, so the first requests
        pay no first-call costs and the runtime's memory arena has already grown to the largest batch the
        server sends (otherwise resident memory creeps up over the first minutes of load)."""
        player = PlayerState(x=50.0, y=26.0, s=5.0, a=0.5, dis=0.5, o=90.0, dir=90.0)
        full = Play(players=[player] * 22, down=1, distance=10.0)
        self.run_plays([full, Play(players=[player], down=1, distance=10.0)])
        self.run_plays([full], self.modes)
        if max_batch > 1:
            self.run_plays([full] * max_batch)

    def respond(
        self, request: PredictRequest, play: Play, result: PlayResult, cached: bool
    ) -> dict[str, Any]:
        """The /predict response body for one play (positions as numpy arrays: serialize with ``to_json``):
        per player the most likely path and its confidence, every mode's probability (by mode id), and with
        ``modes: k`` the k most likely trajectories with their sigmas and rho."""
        frames = request.num_frames_output or self.horizon
        positions = np.round(result.positions[:, :, :frames].astype(np.float64), 3)
        if self.modes > 1:
            confidence = result.probs[:, 0]
        else:
            baseline = constant_velocity([play], self.horizon)[0][:, -1]
            gap = np.linalg.norm(result.positions[:, 0, -1] - baseline, axis=-1)
            confidence = np.exp(-gap / CONFIDENCE_SCALE_YD)
        ids = [i if player.nfl_id is None else player.nfl_id for i, player in enumerate(request.players)]
        predictions: list[dict[str, Any]] = [
            {"player_id": ids[i], "predicted_positions": positions[i, 0], "confidence": value}
            for i, value in enumerate(np.round(confidence.astype(np.float64), 4).tolist())
        ]
        if self.modes > 1 and result.all_probs is not None:
            every = np.round(result.all_probs.astype(np.float64), 4).tolist()
            for prediction, probabilities in zip(predictions, every, strict=True):
                prediction["mode_probabilities"] = probabilities
        if request.modes is not None:
            k = min(request.modes, positions.shape[1])
            probs = np.round(result.probs[:, :k].astype(np.float64), 4).tolist()
            index = np.zeros((len(ids), k), np.int64) if result.mode_index is None else result.mode_index
            spread = None
            if result.uncertainty is not None:
                picked = result.uncertainty[:, :k, :frames].astype(np.float64)  # [n, k, frames, 3]
                spread = np.ascontiguousarray(np.round(np.moveaxis(picked, -1, 2), 4))  # [n, k, 3, frames]
            for i, prediction in enumerate(predictions):
                prediction["modes"] = [
                    _mode(
                        int(index[i, m]),
                        probs[i][m],
                        positions[i, m],
                        None if spread is None else spread[i, m],
                    )
                    for m in range(k)
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
    mode_id: int,
    probability: float,
    positions: npt.NDArray[np.float64],
    spread: npt.NDArray[np.float64] | None,
) -> dict[str, Any]:
    """One mode of a player's answer; with the model's uncertainty, per frame sigma_x, sigma_y (yards) and
    the correlation rho of its Gaussian."""
    mode: dict[str, Any] = {"mode": mode_id, "probability": probability, "positions": positions}
    if spread is not None:
        mode["sigma_x"], mode["sigma_y"], mode["rho"] = spread[0], spread[1], spread[2]
    return mode


def to_json(body: dict[str, Any]) -> bytes:
    """JSON bytes of a response body, numpy arrays included."""
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
