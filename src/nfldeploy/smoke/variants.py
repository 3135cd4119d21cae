"""Distinct request bodies for latency measurements: a play with every player moved a few centimetres, so
each request reaches the model instead of the prediction cache (which keys on the whole request)."""

from __future__ import annotations

import copy
from typing import Any

STEP_YD = 0.02  # 2 cm per variant: far below what changes a prediction meaningfully


def vary(request: dict[str, Any], index: int) -> dict[str, Any]:
    """``request`` with every player (and its history) moved by a distinct offset for each ``index`` below
    250,000 (x by ``index % 500`` steps, y by ``index // 500 % 500``), toward midfield so it stays on the
    field."""
    varied = copy.deepcopy(request)
    dx, dy = (index % 500) * STEP_YD, (index // 500 % 500) * STEP_YD
    for player in varied.get("players", []):
        sx = 1.0 if player.get("x", 60.0) < 60.0 else -1.0
        sy = 1.0 if player.get("y", 26.65) < 26.65 else -1.0
        for point in [player, *(player.get("history") or [])]:
            point["x"] = round(point["x"] + sx * dx, 4)
            point["y"] = round(point["y"] + sy * dy, 4)
    return varied


def variants(request: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """``count`` distinct bodies (the first is the request itself)."""
    return [vary(request, index) for index in range(count)]
