"""The feature pipeline shared by export and serving (numpy only: the serving image has no torch).

Request fields -> model inputs (standardized play direction, normalized features, padding and masks), and
model outputs -> absolute field positions in the request's own frame.

NFL angles: 0 deg = +y, clockwise, so vx = s*sin(dir), vy = s*cos(dir). Plays moving left are rotated 180 deg
(x -> 120 - x, y -> 53.3 - y, angles + 180) so the model always sees offense moving toward +x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

FIELD_LENGTH = 120.0
FIELD_WIDTH = 53.3
FRAME_SECONDS = 0.1  # tracking data is 10 Hz
HISTORY_LEN = 5  # prior frames the history encoder sees
MAX_PLAYERS = 23
CONTEXT_DIM = 9
NUM_ROLES = 5  # 0 passer, 1 targeted receiver, 2 other route runner, 3 defensive coverage, 4 unknown
NUM_SIDES = 3  # 0 defense, 1 offense, 2 unknown
UNKNOWN_ROLE = 4
UNKNOWN_SIDE = 2
DEFAULT_WEIGHT_LB = 225.0
DEFAULT_BOX_DEFENDERS = 6.0

#: Order and names of the exported model's inputs and outputs (the forward contract).
INPUT_NAMES = (
    "node_features",  # [B, P, input_dim] float32
    "positions",  # [B, P, 2] float32, standardized frame, yards
    "velocities",  # [B, P, 2] float32, standardized frame, yd/s
    "roles",  # [B, P] int64 in 0..4
    "sides",  # [B, P] int64 in 0..2
    "history",  # [B, P, HISTORY_LEN, 2] float32, prior positions minus current, standardized, yards / 10
    "history_mask",  # [B, P, HISTORY_LEN] float32, 1 where a prior frame is given
    "context",  # [B, CONTEXT_DIM] float32
    "player_mask",  # [B, P] float32, 1 for real players, 0 for padding
)
OUTPUT_NAMES = (
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


def _flip_xy(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return (
        (FIELD_LENGTH - np.asarray(x, np.float32)).astype(np.float32),
        (FIELD_WIDTH - np.asarray(y, np.float32)).astype(np.float32),
    )


def standardize_angle(angle: npt.ArrayLike, left: bool) -> FloatArray:
    """An NFL angle in the standardized frame (rotated 180 deg for plays moving left)."""
    values = np.asarray(angle, np.float32)
    return ((values + 180.0) % 360.0).astype(np.float32) if left else (values % 360.0).astype(np.float32)


def standardize_xy(x: npt.ArrayLike, y: npt.ArrayLike, left: bool) -> tuple[FloatArray, FloatArray]:
    """Field coordinates in the standardized frame; applying it twice is the identity."""
    if left:
        return _flip_xy(x, y)
    return np.asarray(x, np.float32), np.asarray(y, np.float32)


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
    out: dict[str, FloatArray | IntArray] = {
        "node_features": np.zeros((batch, width, dim), np.float32),
        "positions": np.zeros((batch, width, 2), np.float32),
        "velocities": np.zeros((batch, width, 2), np.float32),
        "roles": np.full((batch, width), UNKNOWN_ROLE, np.int64),
        "sides": np.full((batch, width), UNKNOWN_SIDE, np.int64),
        "history": np.zeros((batch, width, HISTORY_LEN, 2), np.float32),
        "history_mask": np.zeros((batch, width, HISTORY_LEN), np.float32),
        "context": np.zeros((batch, CONTEXT_DIM), np.float32),
        "player_mask": np.zeros((batch, width), np.float32),
    }
    for b, play in enumerate(plays):
        left = play.play_direction == "left"
        n = len(play.players)
        col = {name: np.array([getattr(p, name) for p in play.players], np.float32) for name in _RAW}
        weight = np.array(
            [DEFAULT_WEIGHT_LB if p.weight is None else p.weight for p in play.players], np.float32
        )
        x, y = standardize_xy(col["x"], col["y"], left)
        direction, o = standardize_angle(col["dir"], left), standardize_angle(col["o"], left)
        out["node_features"][b, :n] = node_features(
            feature_set, x, y, col["s"], col["a"], col["dis"], o, direction, weight
        )
        out["positions"][b, :n] = np.stack([x, y], axis=-1)
        out["velocities"][b, :n] = velocity(col["s"], direction)
        out["roles"][b, :n] = [UNKNOWN_ROLE if p.role is None else p.role for p in play.players]
        out["sides"][b, :n] = [UNKNOWN_SIDE if p.side is None else p.side for p in play.players]
        out["player_mask"][b, :n] = 1.0
        for i, player in enumerate(play.players):
            prior = player.history[-HISTORY_LEN:]
            if prior:
                hx, hy = standardize_xy([h[0] for h in prior], [h[1] for h in prior], left)
                k = len(prior)
                out["history"][b, i, HISTORY_LEN - k :, 0] = (hx - x[i]) / 10.0
                out["history"][b, i, HISTORY_LEN - k :, 1] = (hy - y[i]) / 10.0
                out["history_mask"][b, i, HISTORY_LEN - k :] = 1.0
        out["context"][b] = play_context(play)
    return out


_RAW = ("x", "y", "s", "a", "dis", "o", "dir")


def play_context(play: Play) -> FloatArray:
    """down one-hot (4), yards to go, defenders in the box, ball landing spot (standardized) and its flag."""
    context = np.zeros(CONTEXT_DIM, np.float32)
    context[min(max(play.down, 1), 4) - 1] = 1.0
    context[4] = play.distance / 10.0
    box = DEFAULT_BOX_DEFENDERS if play.defenders_in_box is None else play.defenders_in_box
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
    return body
