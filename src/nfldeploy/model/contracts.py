"""Feature contracts: how API plays become an architecture's inputs, named in the manifest so that serving
encodes requests exactly as export did (numpy only).

- ``nfl-graph-v1``: the training project's ``NFLGraphTransformer`` (``graph_features``).
- ``reference-v1``: nfldeploy's reference model and custom architectures that follow its forward contract
  (``features``).

Outputs are named too: ``trajectories`` [B, P, M, T, 2] (displacements, standardized frame, yards) and
``mode_probs`` [B, P, M] always; ``uncertainty`` [B, P, M, T, 3] (sigma_x, sigma_y, rho) from probabilistic
graph models; ``coverage_logit`` [B] from the graph model's coverage head (sigmoid = P(zone)). A model that
takes ``mode_ranks`` [k] decodes only the modes at those ranks (M = k, most likely first, ``modes_out`` in
the signature) and adds ``mode_index`` [B, P, k] (their ids) and ``all_mode_probs`` [B, P, K].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nfldeploy.model import features, graph_features
from nfldeploy.model.features import FloatArray, IntArray, Play

Shape = tuple[str | int, ...]
Encoder = Callable[[Sequence[Play], str], dict[str, FloatArray | IntArray]]

OUTPUT_SHAPES: dict[str, Shape] = {
    "trajectories": ("batch", "players", "modes_out", "horizon", 2),
    "mode_probs": ("batch", "players", "modes_out"),
    "uncertainty": ("batch", "players", "modes_out", "horizon", 3),
    "coverage_logit": ("batch",),
    "mode_index": ("batch", "players", "modes_out"),
    "all_mode_probs": ("batch", "players", "modes"),
}
OUTPUT_DTYPES = {"mode_index": "int64"}  # the others are float32
DEFAULT_OUTPUTS = ("trajectories", "mode_probs")


def zone_probability(coverage_logit: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(zone coverage) from the coverage head's logits (sigmoid; 1 zone, 0 man)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(coverage_logit, np.float64)))


@dataclass(frozen=True)
class Contract:
    """One architecture family's inputs: names, dtypes, symbolic shapes, feature sets and the encoder."""

    name: str
    inputs: dict[str, tuple[str, Shape]]  # name -> (dtype, shape with "batch", "players", "input_dim")
    feature_sets: dict[int, str]  # input_dim -> feature-set name
    encoder: Encoder

    @property
    def input_names(self) -> tuple[str, ...]:
        """The forward's positional inputs, in order."""
        return tuple(self.inputs)

    def encode(self, plays: Sequence[Play], feature_set: str) -> dict[str, FloatArray | IntArray]:
        """Model inputs for a batch of plays."""
        return self.encoder(plays, feature_set)

    def feature_set(self, input_dim: int) -> str:
        """The feature set of a node-feature width; ValueError when this contract has none."""
        try:
            return self.feature_sets[input_dim]
        except KeyError:
            widths = " or ".join(str(width) for width in self.feature_sets)
            raise ValueError(f"{self.name} takes {widths} node features, not {input_dim}") from None

    def signature(
        self,
        input_dim: int,
        modes: int,
        horizon: int,
        outputs: Sequence[str],
        inputs: dict[str, tuple[str, Shape]] | None = None,
    ) -> dict[str, Any]:
        """Names, dtypes and shapes (symbolic batch and players axes) of inputs (the contract's, or
        ``inputs``) and outputs."""
        sizes: dict[str | int, str | int] = {"input_dim": input_dim, "modes": modes, "horizon": horizon}
        if "mode_index" not in outputs:  # every mode is decoded
            sizes["modes_out"] = modes

        def entry(name: str, dtype: str, shape: Shape) -> dict[str, Any]:
            return {"name": name, "dtype": dtype, "shape": [sizes.get(axis, axis) for axis in shape]}

        return {
            "contract": self.name,
            "inputs": [entry(name, dtype, shape) for name, (dtype, shape) in (inputs or self.inputs).items()],
            "outputs": [
                entry(name, OUTPUT_DTYPES.get(name, "float32"), OUTPUT_SHAPES[name]) for name in outputs
            ],
            "max_players": features.MAX_PLAYERS,
        }


_F32, _I64 = "float32", "int64"
REFERENCE = Contract(
    "reference-v1",
    {
        "node_features": (_F32, ("batch", "players", "input_dim")),
        "positions": (_F32, ("batch", "players", 2)),
        "velocities": (_F32, ("batch", "players", 2)),
        "roles": (_I64, ("batch", "players")),
        "sides": (_I64, ("batch", "players")),
        "history": (_F32, ("batch", "players", features.HISTORY_LEN, 2)),
        "history_mask": (_F32, ("batch", "players", features.HISTORY_LEN)),
        "context": (_F32, ("batch", features.REFERENCE_CONTEXT_DIM)),
        "player_mask": (_F32, ("batch", "players")),
    },
    {9: "sincos9", 7: "raw7"},
    features.encode_plays,
)
GRAPH = Contract(
    graph_features.CONTRACT,
    {
        "node_features": (_F32, ("batch", "players", "input_dim")),
        "edge_attr": (_F32, ("batch", "players", "players", 5)),
        "adjacency": (_F32, ("batch", "players", "players")),
        "roles": (_I64, ("batch", "players")),
        "sides": (_I64, ("batch", "players")),
        "history": (_F32, ("batch", "players", graph_features.HISTORY_FRAMES - 1, 4)),
        "context": (_F32, ("batch", 3)),
        "formation": (_I64, ("batch",)),
        "alignment": (_I64, ("batch",)),
        "frame_t": (_F32, ("batch",)),
        "node_mask": (_F32, ("batch", "players")),
    },
    graph_features.FEATURE_SETS,
    graph_features.encode_graph_plays,
)
CONTRACTS = {contract.name: contract for contract in (REFERENCE, GRAPH)}
assert REFERENCE.input_names == features.REFERENCE_INPUT_NAMES
assert GRAPH.input_names == graph_features.INPUT_NAMES


def get_contract(name: str) -> Contract:
    """A contract by the name a manifest records; ValueError for an unknown one."""
    try:
        return CONTRACTS[name]
    except KeyError:
        raise ValueError(f"unknown feature contract {name!r} (known: {', '.join(CONTRACTS)})") from None
