"""The feature pipeline's invariants (numpy only, as in the serving image)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nfldeploy.model import features as F
from nfldeploy.model.features import Play, PlayerState


def _play(direction: str = "right", n: int = 3) -> Play:
    players = [
        PlayerState(
            x=30.0 + 7 * i,
            y=10.0 + 5 * i,
            s=2.0 + i,
            a=1.0,
            dis=0.3,
            o=45.0 * i,
            dir=30.0 + 80 * i,
            role=i % 4,
            side=i % 2,
            history=[(29.0 + 7 * i, 9.5 + 5 * i), (29.5 + 7 * i, 9.8 + 5 * i)],
        )
        for i in range(n)
    ]
    return Play(
        players=players, down=3, distance=7, play_direction=direction, ball_land_x=80.0, ball_land_y=20.0
    )


def test_standardization_round_trips() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 120, 50), rng.uniform(0, 53.3, 50)
    angles = rng.uniform(0, 360, 50)
    x2, y2 = F.standardize_xy(*F.standardize_xy(x, y, True), True)
    np.testing.assert_allclose(x2, x, atol=1e-4)
    np.testing.assert_allclose(y2, y, atol=1e-4)
    np.testing.assert_allclose(
        F.standardize_angle(F.standardize_angle(angles, True), True), angles, atol=1e-3
    )
    np.testing.assert_allclose(F.standardize_xy(x, y, False)[0], x, atol=1e-5)


@pytest.mark.parametrize(
    ("direction", "expected"), [(0, (0, 1)), (90, (1, 0)), (180, (0, -1)), (270, (-1, 0))]
)
def test_velocity_follows_nfl_angles(direction: float, expected: tuple[float, float]) -> None:
    np.testing.assert_allclose(F.velocity(4.0, direction), np.array(expected) * 4.0, atol=1e-5)


def test_velocity_is_s_sin_dir_s_cos_dir() -> None:
    rng = np.random.default_rng(1)
    s, d = rng.uniform(0, 11, 100), rng.uniform(0, 360, 100)
    v = F.velocity(s, d)
    np.testing.assert_allclose(v[:, 0], s * np.sin(np.deg2rad(d)), atol=1e-4)
    np.testing.assert_allclose(v[:, 1], s * np.cos(np.deg2rad(d)), atol=1e-4)


def test_rotating_a_play_rotates_its_velocities() -> None:
    right = F.encode_plays([_play("right")], "sincos9")
    left = F.encode_plays([_play("left")], "sincos9")
    np.testing.assert_allclose(left["velocities"], -right["velocities"], atol=1e-4)


@pytest.mark.parametrize("direction", ["left", "right"])
def test_constant_velocity_rollout_decodes_to_the_baseline(direction: str) -> None:
    """A zero-correction model output (the CV rollout in the standardized frame) decodes to the field CV."""
    play = _play(direction)
    inputs = F.encode_plays([play], "sincos9")
    steps = np.arange(1, 11, dtype=np.float32) * F.FRAME_SECONDS
    rollout = inputs["velocities"][:, :, None, None, :] * steps[None, None, None, :, None]
    decoded = F.to_field_positions(rollout, [play])[0][:, 0]
    np.testing.assert_allclose(decoded, F.constant_velocity([play], 10)[0], atol=1e-4)


def test_zero_displacement_decodes_to_the_current_positions() -> None:
    play = _play("left")
    decoded = F.to_field_positions(np.zeros((1, 3, 2, 4, 2), np.float32), [play])[0]
    expected = np.array([[p.x, p.y] for p in play.players])
    np.testing.assert_allclose(decoded[:, 1, 2], expected, atol=1e-5)


def test_padding_and_masks() -> None:
    plays = [_play(n=1), _play(n=3)]
    inputs = F.encode_plays(plays, "sincos9")
    assert inputs["node_features"].shape == (2, 3, 9)
    np.testing.assert_array_equal(inputs["player_mask"], [[1, 0, 0], [1, 1, 1]])
    assert inputs["roles"][0, 1] == F.UNKNOWN_ROLE and inputs["sides"][0, 2] == F.UNKNOWN_SIDE
    assert not inputs["node_features"][0, 1:].any()


def test_history_is_right_aligned_and_relative() -> None:
    inputs = F.encode_plays([_play("right", n=1)], "sincos9")
    np.testing.assert_array_equal(inputs["history_mask"][0, 0], [0, 0, 0, 1, 1])
    np.testing.assert_allclose(
        inputs["history"][0, 0, -1], [(29.5 - 30.0) / 10, (9.8 - 10.0) / 10], atol=1e-5
    )


def test_feature_sets() -> None:
    play = _play()
    assert F.encode_plays([play], "raw7")["node_features"].shape == (1, 3, 7)
    nine = F.encode_plays([play], "sincos9")["node_features"][0]
    np.testing.assert_allclose(nine[:, 4] ** 2 + nine[:, 5] ** 2, 1.0, atol=1e-5)  # sin^2 + cos^2 of dir
    with pytest.raises(ValueError, match="unknown feature set"):
        F.encode_plays([play], "rgb")


def test_context_and_missing_optionals() -> None:
    bare = replace(_play(), ball_land_x=None, ball_land_y=None, defenders_in_box=None)
    context = F.play_context(bare)
    np.testing.assert_array_equal(context[:4], [0, 0, 1, 0])  # third down
    assert context[8] == 0.0 and context[5] == pytest.approx(6 / 7)
    assert F.play_context(_play())[8] == 1.0


def test_best_mode_picks_the_most_likely() -> None:
    traj = np.zeros((1, 1, 3, 2, 2), np.float32)
    traj[0, 0, 1] = 5.0
    probs = np.array([[[0.2, 0.7, 0.1]]], np.float32)
    np.testing.assert_array_equal(F.best_mode(traj, probs)[0, 0], np.full((2, 2), 5.0))


def test_request_round_trip_fields() -> None:
    body = F.play_to_request(_play("left"))
    assert body["play_direction"] == "left"
    player = body["players"][0]  # type: ignore[index]
    assert {"x", "y", "s", "a", "dis", "o", "dir", "nfl_id", "history"} <= set(player)
    assert body["game_context"] == {"down": 3, "distance": 7}
