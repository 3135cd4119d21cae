"""Ranking a model's modes (numpy only: export's gates and the server share it).

A model that decodes only the modes it is asked for answers them most likely first with their ids
(``mode_index``); a model that decodes every mode answers them in id order. ``ranked`` turns the second form
into the first, so the server treats both alike and the gates can compare them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

#: The exported graph's input naming the ranks of the modes to decode (0 = most likely), [k] int64.
MODE_RANKS = "mode_ranks"
#: Outputs whose third axis is the modes (reordered with them).
PER_MODE = ("trajectories", "mode_probs", "uncertainty")
Outputs = dict[str, npt.NDArray[Any]]


def with_ranks(inputs: dict[str, Any], k: int) -> dict[str, Any]:
    """``inputs`` asking a mode-selecting model for its ``k`` most likely modes."""
    return {**inputs, MODE_RANKS: np.arange(k, dtype=np.int64)}


def _along_modes(values: npt.NDArray[Any], index: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """``values`` [B, P, M, ...] picked along the mode axis by ``index`` [B, P, k]."""
    return np.take_along_axis(values, index.reshape(index.shape + (1,) * (values.ndim - index.ndim)), axis=2)


def ranked(full: Outputs, k: int) -> Outputs:
    """A full decode's ``k`` most likely modes per player, most likely first (ties: the lower id), with their
    ids as ``mode_index`` and every mode's probability as ``all_mode_probs``; other outputs as they are."""
    probs = np.asarray(full["mode_probs"])
    order = np.argsort(-probs, axis=-1, kind="stable")[..., :k]
    out: Outputs = {**full, "mode_index": order, "all_mode_probs": probs}
    for name in PER_MODE:
        if name in full:
            out[name] = _along_modes(np.asarray(full[name]), order)
    return out


def in_id_order(top: Outputs) -> Outputs:
    """A decode of every mode, most likely first, put back in mode-id order (``mode_index`` dropped)."""
    out = dict(top)
    back = np.argsort(out.pop("mode_index"), axis=-1)  # the slot of each mode id
    for name in PER_MODE:
        if name in out:
            out[name] = _along_modes(np.asarray(out[name]), back)
    return out


def pick(full: Outputs, index: npt.NDArray[np.int64]) -> Outputs:
    """The per-mode outputs of a full decode (id order) at the mode ids ``index`` [B, P, k]."""
    return {name: _along_modes(np.asarray(full[name]), index) for name in PER_MODE if name in full}
