"""The feature contract of the training project's ``NFLGraphTransformer`` (numpy only: serving has no torch).

From API plays to the dense graph tensors ``nfldeploy.model.graph_transformer`` takes, reproducing the
training project's graph construction for the current frame t:

- play direction standardized (plays moving left: x -> 120 - x, y -> 53.3 - y, angles + 180 deg);
- node features: ``sincos9`` = std_x, std_y, s, a, sin/cos(std_dir), sin/cos(std_o), weight_norm, or the
  legacy ``legacy7`` = std_x, std_y, s, a, std_dir and std_o in raw degrees, weight_norm; weight_norm =
  (weight - 200) / 50; raw yards and yd/s, no other normalization;
- edges between players closer than 20 yd (strict, both directions, no self edges, coincident players not
  linked) with five attributes for source r -> target c: distance / 20, atan2(y_r - y_c, x_r - x_c),
  s_r - s_c, the direction difference wrapped to [-1, 1), same side;
- roles in the training project's ids (coverage 0, route runner 1, passer 2, targeted receiver 3,
  unknown 4; the API's own codes are mapped), sides 0 defense / 1 offense / 2 unknown;
- history: (vel_x, vel_y, acc_x, acc_y) per step from the 5 positions before the current one, in yards per
  frame; prior positions a request does not give are extrapolated backward at the player's current velocity;
- context [down, yards_to_go, defenders in the box] raw (box 7 when unknown), formation and alignment ids
  (7 and 9 = unknown), ``frame_t`` in [0, 1] (default 0.5, see ``DEFAULT_FRAME_T``).

The model is equivariant to the order of players, so nodes keep the request's order (the training project
orders them by nfl_id; the outputs per player are the same).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from nfldeploy.model.features import (
    FRAME_SECONDS,
    UNKNOWN_ROLE,
    UNKNOWN_SIDE,
    FloatArray,
    IntArray,
    Play,
    PlayerState,
    flip_angles,
    flip_positions,
)

Float64 = npt.NDArray[np.float64]

CONTRACT = "nfl-graph-v1"
INPUT_NAMES = (
    "node_features",  # [B, P, 9 or 7] float32
    "edge_attr",  # [B, P, P, 5] float32: [b, target, source]
    "adjacency",  # [B, P, P] float32: 1 where source -> target is an edge
    "roles",  # [B, P] int64, the training project's role ids
    "sides",  # [B, P] int64
    "history",  # [B, P, 4, 4] float32: vel_x, vel_y, acc_x, acc_y in yards per frame
    "context",  # [B, 3] float32: down, yards to go, defenders in the box
    "formation",  # [B] int64
    "alignment",  # [B] int64
    "frame_t",  # [B] float32
    "node_mask",  # [B, P] float32: 1 for real players, 0 for padding
)
FEATURE_SETS = {9: "sincos9", 7: "legacy7"}
RADIUS = 20.0
HISTORY_FRAMES = 5  # positions before the current one; they give 4 velocity/acceleration steps
NUM_FORMATIONS = 8
NUM_ALIGNMENTS = 10
UNKNOWN_FORMATION = NUM_FORMATIONS - 1
UNKNOWN_ALIGNMENT = NUM_ALIGNMENTS - 1
DEFAULT_BOX_DEFENDERS = 7.0  # the training project fills missing defenders_in_the_box with 7
DEFAULT_WEIGHT_LB = 225.0
#: The training project's frame_t is t / F with F counting the frames after t as well, so it cannot be known
#: at serving time; in training it spans about 0.15-0.65 for plays of typical length. 0.5 sits inside that
#: range; a client that knows the frame index and the play's length sends frame_t itself.
DEFAULT_FRAME_T = 0.5
#: API role codes (0 passer, 1 targeted receiver, 2 route runner, 3 coverage, 4 unknown) -> training ids.
ROLE_TO_TRAINING = np.array([2, 3, 1, 0, 4], np.int64)


def feature_set_for(input_dim: int) -> str:
    """The node-feature set of an input width (9 or the legacy 7)."""
    try:
        return FEATURE_SETS[input_dim]
    except KeyError:
        raise ValueError(f"the graph model takes 9 or 7 node features, not {input_dim}") from None


def _node_features(feature_set: str, cols: Float64) -> FloatArray:
    x, y, s, a, direction, orientation, weight = (cols[:, k] for k in range(7))
    weight_norm = (weight - 200.0) / 50.0
    if feature_set == "sincos9":
        d, o = np.deg2rad(direction), np.deg2rad(orientation)
        stacked = [x, y, s, a, np.sin(d), np.cos(d), np.sin(o), np.cos(o), weight_norm]
    elif feature_set == "legacy7":
        stacked = [x, y, s, a, direction, orientation, weight_norm]
    else:
        raise ValueError(f"unknown feature set {feature_set!r} for the graph model")
    return np.stack(stacked, axis=-1).astype(np.float32)


def _edges(xy: Float64, speed: Float64, direction: Float64, side: IntArray) -> tuple[Float64, Float64]:
    """One play's (edge_attr [n, n, 5], adjacency [n, n]) indexed [target, source], in float64."""
    delta = xy[None, :, :] - xy[:, None, :]  # [c, r]: source r minus target c
    dist = np.sqrt((delta**2).sum(-1))
    adjacency = ((dist < RADIUS) & (dist > 1e-5)).astype(np.float64)
    turn = np.mod(direction[None, :] - direction[:, None] + 180.0, 360.0) - 180.0
    attr = np.stack(
        [
            dist / RADIUS,
            np.arctan2(delta[..., 1], delta[..., 0]),
            speed[None, :] - speed[:, None],
            turn / 180.0,
            (side[None, :] == side[:, None]).astype(np.float64),
        ],
        axis=-1,
    )
    return attr * adjacency[..., None], adjacency


def _histories(current: Float64, velocity: Float64, players: Sequence[PlayerState], left: bool) -> Float64:
    """[n, 4, 4] (vel, acc) per step from the HISTORY_FRAMES positions before ``current`` [n, 2]
    (standardized); missing older positions continue backward from the oldest known one (or the current
    position) at ``velocity`` [n, 2] (yd/s)."""
    n, frames = len(players), HISTORY_FRAMES
    known = np.zeros((n, frames, 2), np.float64)
    counts = np.zeros(n, np.int64)
    for k, player in enumerate(players):
        prior = player.history[-frames:]
        if prior:
            counts[k] = len(prior)
            known[k, frames - len(prior) :] = prior
    known[..., 0], known[..., 1] = flip_positions(known[..., 0], known[..., 1], left)
    rows = np.arange(n)
    anchor = np.where((counts > 0)[:, None], known[rows, np.minimum(frames - counts, frames - 1)], current)
    back = (frames - counts)[:, None] - np.arange(frames)[
        None, :
    ]  # frames from the anchor, for missing slots
    extrapolated = anchor[:, None, :] - (velocity * FRAME_SECONDS)[:, None, :] * back[..., None]
    positions = np.where((back <= 0)[..., None], known, extrapolated)
    vel = np.diff(positions, axis=1)  # [n, 4, 2]
    acc = np.concatenate([np.zeros((n, 1, 2)), np.diff(vel, axis=1)], axis=1)
    return np.concatenate([vel, acc], axis=-1)


def encode_graph_plays(plays: Sequence[Play], feature_set: str) -> dict[str, FloatArray | IntArray]:
    """Model inputs for a batch of plays, padded to the largest play's player count."""
    if not plays:
        raise ValueError("no plays to encode")
    batch, width = len(plays), max(len(play.players) for play in plays)
    dim = 9 if feature_set == "sincos9" else 7
    out: dict[str, FloatArray | IntArray] = {
        "node_features": np.zeros((batch, width, dim), np.float32),
        "edge_attr": np.zeros((batch, width, width, 5), np.float32),
        "adjacency": np.zeros((batch, width, width), np.float32),
        "roles": np.full((batch, width), 4, np.int64),
        "sides": np.full((batch, width), UNKNOWN_SIDE, np.int64),
        "history": np.zeros((batch, width, HISTORY_FRAMES - 1, 4), np.float32),
        "context": np.zeros((batch, 3), np.float32),
        "formation": np.full(batch, UNKNOWN_FORMATION, np.int64),
        "alignment": np.full(batch, UNKNOWN_ALIGNMENT, np.int64),
        "frame_t": np.full(batch, DEFAULT_FRAME_T, np.float32),
        "node_mask": np.zeros((batch, width), np.float32),
    }
    for b, play in enumerate(plays):
        n, left = len(play.players), play.play_direction == "left"
        raw = np.array(
            [
                (
                    p.x,
                    p.y,
                    p.s,
                    p.a,
                    p.dir,
                    p.o,
                    DEFAULT_WEIGHT_LB if p.weight is None else p.weight,
                    UNKNOWN_ROLE if p.role is None else p.role,
                    UNKNOWN_SIDE if p.side is None else p.side,
                )
                for p in play.players
            ],
            np.float64,
        )
        cols = raw[:, :7].copy()
        cols[:, 0], cols[:, 1] = flip_positions(cols[:, 0], cols[:, 1], left)
        cols[:, 4], cols[:, 5] = flip_angles(cols[:, 4], left), flip_angles(cols[:, 5], left)
        sides = raw[:, 8].astype(np.int64)
        attr, adjacency = _edges(cols[:, :2], cols[:, 2], cols[:, 4], sides)
        rad = np.deg2rad(cols[:, 4])
        velocity = np.stack([cols[:, 2] * np.sin(rad), cols[:, 2] * np.cos(rad)], axis=-1)
        out["node_features"][b, :n] = _node_features(feature_set, cols)
        out["edge_attr"][b, :n, :n] = attr
        out["adjacency"][b, :n, :n] = adjacency
        out["roles"][b, :n] = ROLE_TO_TRAINING[raw[:, 7].astype(np.int64)]
        out["sides"][b, :n] = sides
        out["history"][b, :n] = _histories(cols[:, :2], velocity, play.players, left)
        box = DEFAULT_BOX_DEFENDERS if play.defenders_in_box is None else play.defenders_in_box
        out["context"][b] = (play.down, play.distance, box)
        if play.formation is not None:
            out["formation"][b] = play.formation
        if play.alignment is not None:
            out["alignment"][b] = play.alignment
        if play.frame_t is not None:
            out["frame_t"][b] = play.frame_t
        out["node_mask"][b, :n] = 1.0
    return out
