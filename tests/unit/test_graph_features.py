"""The graph model's feature contract: the training project's graph construction from API plays."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from nfldeploy.model.features import Play, PlayerState
from nfldeploy.model.graph_features import (
    DEFAULT_FRAME_T,
    encode_graph_plays,
    feature_set_for,
)


def _player(x: float, y: float, **kw: object) -> PlayerState:
    base = {"s": 4.0, "a": 1.0, "dis": 0.4, "o": 90.0, "dir": 90.0}
    base.update(kw)
    return PlayerState(x=x, y=y, **base)  # type: ignore[arg-type]


def test_edges_are_strictly_within_20_yards_both_ways_without_self_or_coincident_links() -> None:
    players = [
        _player(10.0, 10.0, s=5.0, dir=350.0, side=1),
        _player(22.0, 26.0, s=2.0, dir=10.0, side=0),  # 20.0 yd from the first: not linked (strict)
        _player(22.0, 25.0, s=3.0, dir=100.0, side=0),  # 19.2 yd from the first
        _player(22.0, 25.0, s=1.0, dir=100.0, side=1),  # same spot as the third: not linked to it
    ]
    inputs = encode_graph_plays([Play(players=players, down=1, distance=10.0)], "sincos9")
    adj, attr = inputs["adjacency"][0], inputs["edge_attr"][0]
    assert adj[1, 0] == adj[0, 1] == 0.0 and np.all(np.diag(adj) == 0)
    assert adj[2, 3] == adj[3, 2] == 0.0
    assert adj[2, 0] == adj[0, 2] == 1.0 and adj[1, 2] == adj[2, 1] == 1.0
    # Edge source 0 -> target 2 is stored at [target, source].
    dist = math.hypot(12.0, 15.0)
    expected = [
        dist / 20.0,
        math.atan2(10.0 - 25.0, 10.0 - 22.0),
        5.0 - 3.0,
        ((350 - 100 + 180) % 360 - 180) / 180,
        0.0,
    ]
    np.testing.assert_allclose(attr[2, 0], expected, atol=1e-6)
    assert attr[0, 2, 4] == 0.0 and attr[3, 1, 4] == 0.0 and attr[0, 3, 4] == 1.0
    np.testing.assert_allclose(attr[0, 2, 1], math.atan2(15.0, 12.0), atol=1e-6)
    assert np.all(attr[adj == 0] == 0.0)


def test_node_features_roles_context_and_defaults() -> None:
    players = [_player(30.0, 20.0, o=45.0, dir=135.0, weight=250.0, role=0, side=1), _player(35.0, 22.0)]
    play = Play(
        players=players, down=3, distance=7.0, defenders_in_box=6, formation=1, alignment=2, frame_t=0.25
    )
    nine = encode_graph_plays([play, Play(players=players[:1], down=1, distance=10.0)], "sincos9")
    s2 = math.sqrt(0.5)
    np.testing.assert_allclose(nine["node_features"][0, 0], [30, 20, 4, 1, s2, -s2, s2, s2, 1.0], atol=1e-6)
    assert nine["roles"][0].tolist() == [2, 4] and nine["sides"][0].tolist() == [1, 2]  # passer -> 2
    np.testing.assert_allclose(nine["context"], [[3, 7, 6], [1, 10, 7]])
    assert nine["formation"].tolist() == [1, 7] and nine["alignment"].tolist() == [2, 9]
    np.testing.assert_allclose(nine["frame_t"], [0.25, DEFAULT_FRAME_T])
    assert nine["node_mask"].tolist() == [[1, 1], [1, 0]]
    seven = encode_graph_plays([play], "legacy7")
    np.testing.assert_allclose(seven["node_features"][0, 0], [30, 20, 4, 1, 135, 45, 1.0], atol=1e-6)


@pytest.mark.parametrize(("api", "training"), [(0, 2), (1, 3), (2, 1), (3, 0), (4, 4)])
def test_api_roles_map_to_the_training_ids(api: int, training: int) -> None:
    play = Play(players=[_player(30.0, 20.0, role=api)], down=1, distance=10.0)
    assert encode_graph_plays([play], "sincos9")["roles"][0, 0] == training


def test_plays_moving_left_are_standardized() -> None:
    right = Play(
        players=[_player(100.0, 40.0, o=10.0, dir=300.0, history=[(101.0, 40.5)])], down=1, distance=10.0
    )
    left = replace(right, play_direction="left")
    a = encode_graph_plays([right], "sincos9")
    b = encode_graph_plays([left], "sincos9")
    np.testing.assert_allclose(b["node_features"][0, 0, :2], [20.0, 13.3], atol=1e-5)
    d, o = math.radians(120.0), math.radians(190.0)
    np.testing.assert_allclose(
        b["node_features"][0, 0, 4:8], [math.sin(d), math.cos(d), math.sin(o), math.cos(o)], atol=1e-6
    )
    # The last history step (prior -> current excluded) turns with the play.
    assert not np.allclose(a["history"], b["history"])


def test_history_is_velocity_and_acceleration_per_frame_from_the_five_prior_positions() -> None:
    prior = [(10.0, 5.0), (10.5, 5.0), (11.5, 5.2), (13.0, 5.2), (15.0, 5.0), (99.0, 99.0)][:5]
    play = Play(players=[_player(17.0, 5.0, history=[(0.0, 0.0), *prior])], down=1, distance=10.0)
    history = encode_graph_plays([play], "sincos9")["history"][0, 0]
    np.testing.assert_allclose(history[:, :2], [[0.5, 0.0], [1.0, 0.2], [1.5, 0.0], [2.0, -0.2]], atol=1e-5)
    np.testing.assert_allclose(history[:, 2:], [[0, 0], [0.5, 0.2], [0.5, -0.2], [0.5, -0.2]], atol=1e-5)


def test_missing_history_is_extrapolated_at_the_current_velocity() -> None:
    play = Play(players=[_player(50.0, 20.0, s=5.0, dir=90.0)], down=1, distance=10.0)
    history = encode_graph_plays([play], "sincos9")["history"][0, 0]
    np.testing.assert_allclose(history[:, :2], [[0.5, 0.0]] * 4, atol=1e-5)  # 5 yd/s = 0.5 yd per frame
    np.testing.assert_allclose(history[:, 2:], 0.0, atol=1e-6)
    partial = Play(
        players=[_player(50.0, 20.0, s=5.0, dir=90.0, history=[(48.0, 20.0), (49.0, 20.0)])],
        down=1,
        distance=10.0,
    )
    history = encode_graph_plays([partial], "sincos9")["history"][0, 0]
    np.testing.assert_allclose(history[:, 0], [0.5, 0.5, 0.5, 1.0], atol=1e-5)


def test_feature_sets() -> None:
    assert feature_set_for(9) == "sincos9" and feature_set_for(7) == "legacy7"
    with pytest.raises(ValueError, match="9 or 7"):
        feature_set_for(8)
