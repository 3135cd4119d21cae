"""The traffic arithmetic of canaries."""

from __future__ import annotations

import pytest

from nfldeploy.targets.traffic import alias_weights, canary_split


@pytest.mark.parametrize(
    ("traffic", "canary", "expected"),
    [
        ({"a": 100}, None, {"new": 100}),  # no canary: the new revision takes everything
        ({"a": 100}, 10, {"new": 10, "a": 90}),
        ({"a": 70, "b": 30}, 10, {"new": 10, "a": 63, "b": 27}),  # the rest in proportion
        ({"a": 50, "b": 50}, 33, {"new": 33, "a": 34, "b": 33}),  # the last one takes the remainder
        ({"a": 1, "b": 99}, 50, {"new": 50, "b": 50}),  # a share rounded to 0 drops out
        ({"new": 10, "a": 90}, 10, {"new": 10, "a": 90}),  # already there: unchanged
        ({"new": 10, "a": 90}, 25, {"new": 25, "a": 75}),
    ],
)
def test_canary_split(traffic: dict[str, int], canary: int | None, expected: dict[str, int]) -> None:
    split = canary_split("new", traffic, canary)
    assert split == expected
    assert sum(split.values()) == 100


@pytest.mark.parametrize("canary", range(1, 100, 7))
def test_canary_split_always_sums_to_100(canary: int) -> None:
    split = canary_split("new", {"a": 37, "b": 41, "c": 22}, canary)
    assert sum(split.values()) == 100 and split["new"] == canary


def test_alias_weights() -> None:
    assert alias_weights("4", {}) == {"4": 100}
    assert alias_weights("4", {"5": 0.1}) == {"4": 90, "5": 10}
    assert alias_weights("4", {"5": 0.333}) == {"4": 67, "5": 33}
