"""A deterministic simulator of pass plays with realistic kinematics (numpy only).

No real tracking data can be shipped, so the example run, the parity and accuracy gates and the golden
requests use simulated plays: 11 offensive players (a passer who drops back, a targeted receiver and four other
route runners on stems and breaks, five linemen in pass protection) and 11 defenders (seven in man or deep
zone coverage who react to their receiver with a lag and break on the ball's landing spot after the throw,
four pass rushers). In zone plays (about half) the five underneath defenders drop to zone spots instead of
mirroring a receiver, and every defender breaks on the ball after the throw. Each player steers toward a target with a personal top speed (up to about 11 yd/s) and
an acceleration limit of about 6 yd/s^2, at 10 Hz. Plays move right or left at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nfldeploy.model.features import (
    FIELD_LENGTH,
    FIELD_WIDTH,
    FRAME_SECONDS,
    HISTORY_LEN,
    Play,
    PlayerState,
    standardize_angle,
    standardize_xy,
)

N_OFFENSE, N_DEFENSE = 11, 11
MAX_ACCEL = 6.0
PASSER, TARGET, ROUTE, COVERAGE, OTHER = 0, 1, 2, 3, 4
# Route shapes: (stem depth in yd, break angle from +x in degrees toward the middle; None = go/fade).
ROUTES = [(6.0, 90.0), (5.0, -90.0), (10.0, 45.0), (12.0, -45.0), (7.0, 180.0), (14.0, None), (3.0, -100.0)]


@dataclass
class SimulatedPlay:
    """A play's full track: positions [22, F, 2], speed/accel/dist/orientation/direction [22, F]."""

    xy: npt.NDArray[np.float32]
    s: npt.NDArray[np.float32]
    a: npt.NDArray[np.float32]
    dis: npt.NDArray[np.float32]
    o: npt.NDArray[np.float32]
    dir: npt.NDArray[np.float32]
    role: npt.NDArray[np.int64]
    side: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float32]
    down: int
    distance: float
    box: int
    left: bool
    ball_land: npt.NDArray[np.float32]
    zone: bool = False  # zone coverage (else man): the label of the graph model's coverage head

    def play_at(self, frame: int) -> Play:
        """The request-form play at ``frame`` with up to HISTORY_LEN prior frames, in the play's own frame."""
        to_field = _frame_mapper(self.left)
        players = []
        for i in range(self.xy.shape[0]):
            x, y = to_field(self.xy[i, frame])
            prior = [to_field(self.xy[i, f]) for f in range(max(0, frame - HISTORY_LEN), frame)]
            players.append(
                PlayerState(
                    x=round(x, 2),
                    y=round(y, 2),
                    s=round(float(self.s[i, frame]), 2),
                    a=round(float(self.a[i, frame]), 2),
                    dis=round(float(self.dis[i, frame]), 2),
                    o=round(float(standardize_angle(self.o[i, frame], self.left)), 2),
                    dir=round(float(standardize_angle(self.dir[i, frame], self.left)), 2),
                    weight=float(self.weight[i]),
                    role=int(self.role[i]),
                    side=int(self.side[i]),
                    history=[(round(px, 2), round(py, 2)) for px, py in prior],
                )
            )
        bx, by = to_field(self.ball_land)
        return Play(
            players=players,
            down=self.down,
            distance=self.distance,
            defenders_in_box=self.box,
            play_direction="left" if self.left else "right",
            ball_land_x=round(bx, 2),
            ball_land_y=round(by, 2),
            frame_t=round(frame / self.xy.shape[1], 4),
        )

    def future(self, frame: int, horizon: int) -> npt.NDArray[np.float32]:
        """True positions [22, horizon, 2] after ``frame``, in the play's own frame."""
        xy = self.xy[:, frame + 1 : frame + 1 + horizon]
        x, y = standardize_xy(xy[..., 0], xy[..., 1], self.left)
        return np.stack([x, y], axis=-1).astype(np.float32)


def _frame_mapper(left: bool):  # type: ignore[no-untyped-def]
    def to_field(point: npt.NDArray[np.float32]) -> tuple[float, float]:
        x, y = standardize_xy(point[0], point[1], left)
        return float(x), float(y)

    return to_field


def _nfl_angle(vx: npt.NDArray[np.float64], vy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.degrees(np.arctan2(vx, vy)) % 360.0


def simulate_play(rng: np.random.Generator, n_frames: int) -> SimulatedPlay:
    """One play of ``n_frames`` frames in the standardized frame (offense moving toward +x)."""
    n = N_OFFENSE + N_DEFENSE
    los = rng.uniform(25.0, 85.0)
    mid = rng.uniform(20.0, FIELD_WIDTH - 20.0)
    pos = np.zeros((n, 2))
    role = np.full(n, OTHER, np.int64)
    side = np.array([1] * N_OFFENSE + [0] * N_DEFENSE, np.int64)
    vmax = np.zeros(n)
    weight = np.zeros(n)
    # Offense: 0 QB, 1-5 route runners (1 is targeted), 6-10 linemen.
    pos[0] = (los - rng.uniform(4.0, 7.0), mid)
    role[0], vmax[0], weight[0] = PASSER, 6.0, rng.uniform(210, 240)
    receiver_y = np.sort(rng.uniform(3.0, FIELD_WIDTH - 3.0, 5))
    for k in range(5):
        pos[1 + k] = (los - rng.uniform(0.5, 2.0), receiver_y[k])
        role[1 + k], vmax[1 + k], weight[1 + k] = ROUTE, rng.uniform(8.5, 11.0), rng.uniform(180, 250)
    target = 1 + int(rng.integers(0, 5))
    role[target] = TARGET
    for k in range(5):
        pos[6 + k] = (los - 1.0, mid + (k - 2) * 1.5)
        vmax[6 + k], weight[6 + k] = 3.0, rng.uniform(290, 330)
    # Defense: 11-17 coverage (11-15 man on receivers, 16-17 deep zone), 18-21 rushers.
    for k in range(5):
        pos[11 + k] = pos[1 + k] + (rng.uniform(2.0, 7.0), rng.uniform(-1.5, 1.5))
    pos[16] = (los + rng.uniform(12.0, 16.0), FIELD_WIDTH / 3)
    pos[17] = (los + rng.uniform(12.0, 16.0), 2 * FIELD_WIDTH / 3)
    for k in range(7):
        role[11 + k], vmax[11 + k], weight[11 + k] = COVERAGE, rng.uniform(8.5, 10.8), rng.uniform(185, 230)
    for k in range(4):
        pos[18 + k] = (los + 1.0, mid + (k - 1.5) * 2.5)
        vmax[18 + k], weight[18 + k] = rng.uniform(5.5, 7.5), rng.uniform(250, 300)
    box = int(rng.integers(5, 9))

    routes = [ROUTES[int(rng.integers(0, len(ROUTES)))] for _ in range(5)]
    throw_frame = int(rng.integers(max(8, n_frames // 3), max(9, n_frames // 2)))
    reaction_lag = rng.integers(2, 5, size=n)
    # Coverage from a value the model never sees, so that no new random draw shifts the other plays.
    zone = int(reaction_lag.sum()) % 2 == 1
    # Where the targeted receiver will be around the catch decides where the ball lands.
    t_route = routes[target - 1]
    catch_dir = _route_break_vector(t_route, pos[target, 1])
    ball_land = pos[target] + np.array([t_route[0], 0.0]) + catch_dir * rng.uniform(4.0, 9.0)
    ball_land = np.clip(ball_land, [1.0, 1.0], [FIELD_LENGTH - 1.0, FIELD_WIDTH - 1.0])

    xy = np.zeros((n, n_frames, 2))
    vel = np.zeros((n, n_frames, 2))
    acc = np.zeros((n, n_frames))
    orient = np.zeros((n, n_frames))
    start = pos.copy()
    v = np.zeros((n, 2))
    for f in range(n_frames):
        goal = np.zeros((n, 2))
        speed_goal = vmax.copy()
        goal[0] = start[0] - (3.0, 0.0)
        for k in range(5):
            goal[1 + k] = _route_goal(start[1 + k], routes[k], xy[1 + k, f - 1] if f else start[1 + k])
        goal[6:11] = start[6:11] - (2.0, 0.0)
        thrown = f >= throw_frame
        for k in range(5):
            d = 11 + k
            lag = max(0, f - int(reaction_lag[d]))
            mark = xy[1 + k, lag] if f else start[1 + k]
            mark_v = vel[1 + k, lag] if f else np.zeros(2)
            goal[d] = mark + mark_v * 0.4 + (1.5, 0.0)
            if zone:
                goal[d] = ball_land if thrown else start[d] + (6.0, (k - 2) * 1.0)
            elif thrown and 1 + k == target:
                goal[d] = ball_land
        for d in (16, 17):
            goal[d] = ball_land if thrown else start[d] + (3.0, 0.0)
        goal[18:22] = xy[0, f - 1] if f else start[0]
        if thrown:
            goal[target] = ball_land
        to_goal = goal - pos
        dist = np.linalg.norm(to_goal, axis=1) + 1e-9
        speed_goal = np.minimum(speed_goal, dist * 2.0)  # slow down when arriving
        desired = to_goal / dist[:, None] * speed_goal[:, None]
        dv = desired - v
        dv_norm = np.linalg.norm(dv, axis=1) + 1e-9
        a_lim = MAX_ACCEL * rng.uniform(0.8, 1.0, n)
        step = dv * np.minimum(1.0, a_lim * FRAME_SECONDS / dv_norm)[:, None]
        v = v + step
        pos = pos + v * FRAME_SECONDS
        pos = np.clip(pos, [0.0, 0.0], [FIELD_LENGTH, FIELD_WIDTH])
        xy[:, f], vel[:, f] = pos, v
        acc[:, f] = np.linalg.norm(step, axis=1) / FRAME_SECONDS
        facing = np.where(np.arange(n)[:, None] < N_OFFENSE, (1.0, 0.0), (-1.0, 0.0))
        look = np.where(np.linalg.norm(v, axis=1)[:, None] > 1.0, v, facing)
        orient[:, f] = _nfl_angle(look[:, 0], look[:, 1]) + rng.normal(0.0, 8.0, n)

    speed = np.linalg.norm(vel, axis=-1)
    heading = _nfl_angle(vel[..., 0], vel[..., 1])
    return SimulatedPlay(
        xy=xy.astype(np.float32),
        s=speed.astype(np.float32),
        a=acc.astype(np.float32),
        dis=(speed * FRAME_SECONDS).astype(np.float32),
        o=(orient % 360.0).astype(np.float32),
        dir=heading.astype(np.float32),
        role=role,
        side=side,
        weight=weight.astype(np.float32),
        down=int(rng.integers(1, 5)),
        distance=float(rng.integers(1, 16)),
        box=box,
        left=bool(rng.random() < 0.5),
        ball_land=ball_land.astype(np.float32),
        zone=zone,
    )


def _route_break_vector(route: tuple[float, float | None], y: float) -> npt.NDArray[np.float64]:
    _, angle = route
    if angle is None:
        return np.array([1.0, 0.0])
    toward_middle = 1.0 if y < FIELD_WIDTH / 2 else -1.0
    rad = np.radians(abs(angle))
    return np.array([np.cos(rad), np.sign(angle) * toward_middle * np.sin(rad)])


def _route_goal(
    start: npt.NDArray[np.float64], route: tuple[float, float | None], current: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    depth, _ = route
    stem: npt.NDArray[np.float64] = start + np.array([depth, 0.0])
    if current[0] < stem[0] - 0.5:
        return stem
    goal: npt.NDArray[np.float64] = stem + _route_break_vector(route, start[1]) * 25.0
    return goal


def simulate_plays(count: int, seed: int, n_frames: int) -> list[SimulatedPlay]:
    """``count`` plays, deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    return [simulate_play(rng, n_frames) for _ in range(count)]


def sample_windows(
    plays: list[SimulatedPlay], horizon: int, seed: int, per_play: int = 1
) -> list[tuple[Play, npt.NDArray[np.float32]]]:
    """(request-form play, true future [22, horizon, 2]) pairs at random current frames."""
    rng = np.random.default_rng(seed)
    samples = []
    for play in plays:
        n_frames = play.xy.shape[1]
        for _ in range(per_play):
            frame = int(rng.integers(HISTORY_LEN, n_frames - horizon))
            samples.append((play.play_at(frame), play.future(frame, horizon)))
    return samples
