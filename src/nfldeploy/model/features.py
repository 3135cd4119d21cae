"""The feature pipeline shared by export and serving (numpy only: the serving image has no torch).

Request fields -> model inputs (standardized play direction, normalized features, padding and masks), and
model outputs -> absolute field positions in the request's own frame.

NFL angles: 0 deg = +y, clockwise, so vx = s*sin(dir), vy = s*cos(dir). Plays moving left are rotated 180 deg
(x -> 120 - x, y -> 53.3 - y, angles + 180) so the model always sees offense moving toward +x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

FIELD_LENGTH = 120.0
FIELD_WIDTH = 53.3
FRAME_SECONDS = 0.1  # tracking data is 10 Hz
HISTORY_LEN = 5  # prior frames the history encoder sees
MAX_PLAYERS = 23
REFERENCE_CONTEXT_DIM = 9
NUM_ROLES = 5  # 0 passer, 1 targeted receiver, 2 other route runner, 3 defensive coverage, 4 unknown
NUM_SIDES = 3  # 0 defense, 1 offense, 2 unknown
UNKNOWN_ROLE = 4
UNKNOWN_SIDE = 2
DEFAULT_WEIGHT_LB = 225.0
REFERENCE_BOX_DEFENDERS = 6.0

#: Order and names of the reference model's inputs and outputs (its forward contract, ``reference-v1``).
REFERENCE_INPUT_NAMES = (
    "node_features",  # [B, P, input_dim] float32
    "positions",  # [B, P, 2] float32, standardized frame, yards
    "velocities",  # [B, P, 2] float32, standardized frame, yd/s
    "roles",  # [B, P] int64 in 0..4
    "sides",  # [B, P] int64 in 0..2
    "history",  # [B, P, HISTORY_LEN, 2] float32, prior positions minus current, standardized, yards / 10
    "history_mask",  # [B, P, HISTORY_LEN] float32, 1 where a prior frame is given
    "context",  # [B, REFERENCE_CONTEXT_DIM] float32
    "player_mask",  # [B, P] float32, 1 for real players, 0 for padding
)
REFERENCE_OUTPUT_NAMES = (
    "trajectories",  # [B, P, M, T, 2] displacement from the current position, standardized frame, yards
    "mode_probs",  # [B, P, M] probabilities of the M modes (1.0 when deterministic)
)


@dataclass
class PlayerState:
    """One player at the current frame, as a request gives it (the play's own coordinates)."""

    x: float
    y: float
    s: float
    a: float
    dis: float
    o: float
    dir: float
    weight: float | None = None
    role: int | None = None
    side: int | None = None
    history: list[tuple[float, float]] = field(default_factory=list)  # prior (x, y), oldest first


@dataclass
class Play:
    """One play at the current frame."""

    players: list[PlayerState]
    down: int
    distance: float
    defenders_in_box: float | None = None
    play_direction: str = "right"
    ball_land_x: float | None = None
    ball_land_y: float | None = None
    formation: int | None = None  # the training project's formation id (graph model)
    alignment: int | None = None  # its receiver alignment id (graph model)
    frame_t: float | None = None  # position of the current frame in the play, 0-1 (graph model)


def flip_positions(x: Any, y: Any, left: Any) -> tuple[Any, Any]:
    """(x, y) in the standardized frame where ``left`` (one flag, or one per value): plays moving left are
    rotated 180 deg, x -> 120 - x and y -> 53.3 - y. Keeps the values' dtype; applying it twice is the
    identity. The one place play direction is standardized (with ``flip_angles``)."""
    return np.where(left, FIELD_LENGTH - x, x), np.where(left, FIELD_WIDTH - y, y)


def flip_angles(angle: Any, left: Any) -> Any:
    """NFL angles in the standardized frame (+180 deg where ``left``), in [0, 360); keeps their dtype."""
    turn = np.where(left, 180.0, 0.0) if np.ndim(left) else (180.0 if left else 0.0)
    return np.mod(angle + turn, 360.0)


def standardize_angle(angle: npt.ArrayLike, left: bool) -> FloatArray:
    """An NFL angle in the standardized frame (rotated 180 deg for plays moving left), float32."""
    return np.asarray(flip_angles(np.asarray(angle, np.float32), left), np.float32)


def standardize_xy(x: npt.ArrayLike, y: npt.ArrayLike, left: bool) -> tuple[FloatArray, FloatArray]:
    """Field coordinates in the standardized frame, float32; applying it twice is the identity."""
    fx, fy = flip_positions(np.asarray(x, np.float32), np.asarray(y, np.float32), left)
    return np.asarray(fx, np.float32), np.asarray(fy, np.float32)


def velocity(speed: npt.ArrayLike, direction_deg: npt.ArrayLike) -> FloatArray:
    """(vx, vy) from speed and NFL direction: vx = s*sin(dir), vy = s*cos(dir)."""
    rad = np.deg2rad(np.asarray(direction_deg, np.float32))
    s = np.asarray(speed, np.float32)
    return np.stack([s * np.sin(rad), s * np.cos(rad)], axis=-1).astype(np.float32)


def node_features(
    feature_set: str,
    x: FloatArray,
    y: FloatArray,
    s: FloatArray,
    a: FloatArray,
    dis: FloatArray,
    o: FloatArray,
    direction: FloatArray,
    weight: FloatArray,
) -> FloatArray:
    """Normalized node features in the standardized frame.

    ``sincos9``: x, y, s, a, sin(dir), cos(dir), sin(o), cos(o), weight_norm.
    ``raw7``: x, y, s, a, dis, o, dir (each scaled to about unit range).
    """
    xn, yn = (x - 60.0) / 30.0, (y - 26.65) / 15.0
    sn, an = s / 5.0, a / 3.0
    if feature_set == "sincos9":
        d, oo = np.deg2rad(direction), np.deg2rad(o)
        cols = [xn, yn, sn, an, np.sin(d), np.cos(d), np.sin(oo), np.cos(oo), (weight - 225.0) / 50.0]
    elif feature_set == "raw7":
        cols = [xn, yn, sn, an, dis / 0.5, o / 180.0 - 1.0, direction / 180.0 - 1.0]
    else:
        raise ValueError(f"unknown feature set {feature_set!r}")
    return np.stack(cols, axis=-1).astype(np.float32)


def encode_plays(plays: Sequence[Play], feature_set: str) -> dict[str, FloatArray | IntArray]:
    """Model inputs for a batch of plays, padded to the largest play's player count."""
    if not plays:
        raise ValueError("no plays to encode")
    batch, width = len(plays), max(len(play.players) for play in plays)
    dim = 9 if feature_set == "sincos9" else 7
    if feature_set not in ("sincos9", "raw7"):
        raise ValueError(f"unknown feature set {feature_set!r}")
    # One row per real player across the batch, then scattered into the padded arrays.
    rows = np.array(
        [
            (
                p.x,
                p.y,
                p.s,
                p.a,
                p.dis,
                p.o,
                p.dir,
                DEFAULT_WEIGHT_LB if p.weight is None else p.weight,
                UNKNOWN_ROLE if p.role is None else p.role,
                UNKNOWN_SIDE if p.side is None else p.side,
            )
            for play in plays
            for p in play.players
        ],
        np.float64,
    )
    counts = [len(play.players) for play in plays]
    play_index = np.repeat(np.arange(batch), counts)
    slot = np.concatenate([np.arange(n) for n in counts])
    left = np.repeat(np.array([play.play_direction == "left" for play in plays]), counts)
    x, y = (values.astype(np.float32) for values in flip_positions(rows[:, 0], rows[:, 1], left))
    o = flip_angles(rows[:, 5], left).astype(np.float32)
    direction = flip_angles(rows[:, 6], left).astype(np.float32)
    s, a, dis, weight = (rows[:, k].astype(np.float32) for k in (2, 3, 4, 7))

    out: dict[str, FloatArray | IntArray] = {
        "node_features": np.zeros((batch, width, dim), np.float32),
        "positions": np.zeros((batch, width, 2), np.float32),
        "velocities": np.zeros((batch, width, 2), np.float32),
        "roles": np.full((batch, width), UNKNOWN_ROLE, np.int64),
        "sides": np.full((batch, width), UNKNOWN_SIDE, np.int64),
        "history": np.zeros((batch, width, HISTORY_LEN, 2), np.float32),
        "history_mask": np.zeros((batch, width, HISTORY_LEN), np.float32),
        "context": np.stack([play_context(play) for play in plays]),
        "player_mask": np.zeros((batch, width), np.float32),
    }
    at = (play_index, slot)
    out["node_features"][at] = node_features(feature_set, x, y, s, a, dis, o, direction, weight)
    out["positions"][at] = np.stack([x, y], axis=-1)
    out["velocities"][at] = velocity(s, direction)
    out["roles"][at] = rows[:, 8].astype(np.int64)
    out["sides"][at] = rows[:, 9].astype(np.int64)
    out["player_mask"][at] = 1.0
    # History: prior positions, right-aligned (the most recent in the last slot), relative to now.
    entries = [
        (row, HISTORY_LEN - len(prior) + k, hx, hy)
        for row, p in enumerate(player for play in plays for player in play.players)
        if (prior := p.history[-HISTORY_LEN:])
        for k, (hx, hy) in enumerate(prior)
    ]
    if entries:
        hist = np.array(entries, np.float64)
        who, when = hist[:, 0].astype(np.int64), hist[:, 1].astype(np.int64)
        flip = left[who]
        hx, hy = flip_positions(hist[:, 2], hist[:, 3], flip)
        target = (play_index[who], slot[who], when)
        out["history"][target] = np.stack([(hx - x[who]) / 10.0, (hy - y[who]) / 10.0], axis=-1)
        out["history_mask"][target] = 1.0
    return out


_RAW = ("x", "y", "s", "a", "dis", "o", "dir")


def play_context(play: Play) -> FloatArray:
    """down one-hot (4), yards to go, defenders in the box, ball landing spot (standardized) and its flag."""
    context = np.zeros(REFERENCE_CONTEXT_DIM, np.float32)
    context[min(max(play.down, 1), 4) - 1] = 1.0
    context[4] = play.distance / 10.0
    box = REFERENCE_BOX_DEFENDERS if play.defenders_in_box is None else play.defenders_in_box
    context[5] = box / 7.0
    if play.ball_land_x is not None and play.ball_land_y is not None:
        bx, by = standardize_xy(play.ball_land_x, play.ball_land_y, play.play_direction == "left")
        context[6], context[7], context[8] = (float(bx) - 60.0) / 30.0, (float(by) - 26.65) / 15.0, 1.0
    return context


def to_field_positions(trajectories: FloatArray, plays: Sequence[Play]) -> list[FloatArray]:
    """Model displacements [B, P, M, T, 2] -> per play absolute positions [n_players, M, T, 2] in each
    request's own frame (the standardization undone)."""
    result = []
    for b, play in enumerate(plays):
        n = len(play.players)
        disp = trajectories[b, :n]
        if play.play_direction == "left":
            disp = -disp  # a 180 deg rotation flips both displacement components
        start = np.array([[p.x, p.y] for p in play.players], np.float32)[:, None, None, :]
        result.append((start + disp).astype(np.float32))
    return result


def constant_velocity(plays: Sequence[Play], horizon: int) -> list[FloatArray]:
    """The constant-velocity baseline: absolute positions [n_players, horizon, 2] per play."""
    steps = np.arange(1, horizon + 1, dtype=np.float32)[:, None] * FRAME_SECONDS
    result = []
    for play in plays:
        pos = np.array([[p.x, p.y] for p in play.players], np.float32)
        vel = velocity([p.s for p in play.players], [p.dir for p in play.players])
        result.append((pos[:, None, :] + vel[:, None, :] * steps[None]).astype(np.float32))
    return result


def best_mode(trajectories: FloatArray, mode_probs: FloatArray) -> FloatArray:
    """The most likely mode's trajectory: [B, P, M, T, 2] -> [B, P, T, 2]."""
    index = mode_probs.argmax(-1)[..., None, None, None]
    picked = np.take_along_axis(trajectories, index, axis=2)
    return picked[:, :, 0].astype(np.float32)


def play_to_request(play: Play) -> dict[str, object]:
    """The API request body for a play (the deployment guide's shape plus the optional fields)."""
    players = []
    for index, p in enumerate(play.players):
        entry: dict[str, object] = {"nfl_id": 40000 + index}
        entry.update({name: getattr(p, name) for name in _RAW})
        for name in ("weight", "role", "side"):
            if getattr(p, name) is not None:
                entry[name] = getattr(p, name)
        if p.history:
            entry["history"] = [{"x": hx, "y": hy} for hx, hy in p.history]
        players.append(entry)
    context: dict[str, object] = {"down": play.down, "distance": play.distance}
    if play.defenders_in_box is not None:
        context["defenders_in_box"] = play.defenders_in_box
    body: dict[str, object] = {
        "players": players,
        "game_context": context,
        "play_direction": play.play_direction,
    }
    if play.ball_land_x is not None and play.ball_land_y is not None:
        body["ball_land_x"], body["ball_land_y"] = play.ball_land_x, play.ball_land_y
    for name in ("formation", "alignment"):
        if getattr(play, name) is not None:
            context[name] = getattr(play, name)
    if play.frame_t is not None:
        body["frame_t"] = play.frame_t
    return body
