"""The seeded held-out set the gates run on: simulated plays, with 1- and 11-player subsets so that
padding and masks are exercised next to full plays."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from nfldeploy.model.features import HISTORY_LEN, Play
from nfldeploy.model.simulate import sample_windows, simulate_plays

HELDOUT_SEED = 7_919
Sample = tuple[Play, npt.NDArray[np.float32]]


def heldout_samples(horizon: int, count: int = 96, seed: int = HELDOUT_SEED) -> list[Sample]:
    """``count`` (play, true future) pairs; every third play is cut to 1 or 11 players."""
    n_frames = HISTORY_LEN + 1 + horizon + 20
    samples = sample_windows(simulate_plays(count, seed, n_frames), horizon, seed + 1)
    result: list[Sample] = []
    for index, (play, future) in enumerate(samples):
        if index % 3 == 1:
            keep = 1 if index % 2 else 11
            play, future = replace(play, players=play.players[:keep]), future[:keep]
        result.append((play, future))
    return result
