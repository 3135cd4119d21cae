"""Trajectory metrics and the play simulator's kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from nfldeploy.model.features import FRAME_SECONDS, constant_velocity
from nfldeploy.model.metrics import trajectory_metrics
from nfldeploy.model.simulate import sample_windows, simulate_plays


def test_metrics_on_a_known_error() -> None:
    truth = [np.zeros((2, 3, 2), np.float32)]
    pred = [np.zeros((2, 3, 2), np.float32)]
    pred[0][:, :, 0] = 3.0
    pred[0][:, -1, 1] = 4.0  # the final frame is off by 5 yd
    metrics = trajectory_metrics(pred, truth)
    assert metrics["fde"] == pytest.approx(5.0)
    assert metrics["ade"] == pytest.approx((3 + 3 + 5) / 3)
    assert metrics["rmse"] == pytest.approx(np.sqrt((9 + 9 + 25) / 3 / 2))


def test_simulator_is_deterministic() -> None:
    a, b = simulate_plays(3, 5, 30), simulate_plays(3, 5, 30)
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa.xy, pb.xy)
    assert not np.array_equal(a[0].xy, simulate_plays(1, 6, 30)[0].xy)


def test_simulated_kinematics_are_realistic() -> None:
    plays = simulate_plays(40, 11, 40)
    speed = np.concatenate([p.s.ravel() for p in plays])
    accel = np.concatenate([p.a.ravel() for p in plays])
    assert speed.max() <= 11.5 and np.percentile(speed, 99) > 7.0
    assert accel.max() <= 6.0 + 1e-3
    for play in plays:
        step = np.diff(play.xy, axis=1) / FRAME_SECONDS  # [22, F-1, 2]
        inside = (play.xy[:, 1:, 0] > 0.5) & (play.xy[:, 1:, 0] < 119.5)
        inside &= (play.xy[:, 1:, 1] > 0.5) & (play.xy[:, 1:, 1] < 52.8)
        np.testing.assert_allclose(np.linalg.norm(step, axis=-1)[inside], play.s[:, 1:][inside], atol=1e-3)


def test_request_form_is_consistent_with_direction_and_speed() -> None:
    """In the play's own frame, vx = s*sin(dir), vy = s*cos(dir) predicts the next position."""
    samples = sample_windows(simulate_plays(20, 3, 30), horizon=5, seed=4)
    plays = [play for play, _ in samples]
    assert {p.play_direction for p in plays} == {"left", "right"}
    cv = constant_velocity(plays, 1)
    truth = [future[:, :1] for _, future in samples]
    one_frame = trajectory_metrics(cv, truth)
    assert one_frame["ade"] < 0.1  # one frame ahead, constant velocity is nearly exact
