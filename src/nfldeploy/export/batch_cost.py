"""Batching by measurement: what one play costs in model calls of 1, 2, 4, ... plays, and the largest batch
worth making. A compute-bound model (the training project's at its real size) costs more per play in big
batches (its attention tensors outgrow the caches), so the server must not batch it past that point; a small,
overhead-bound model gets cheaper per play all the way."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nfldeploy.export.runtimes import Runner

BATCH_SIZES = (1, 2, 4, 8, 16, 32)
SLACK = 0.10  # a batch may cost this much more per play than the cheapest one and still be allowed


def ms_per_play(call: Callable[[int], Any], rounds: int = 7) -> dict[int, float]:
    """Milliseconds per play of ``call(n)`` (one model call of n plays, their encoding included, as the
    server makes it) for each batch size n: the fastest of ``rounds`` after a warm-up, since a shared
    machine's noise only ever adds time."""
    costs: dict[int, float] = {}
    for size in BATCH_SIZES:
        call(size)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            call(size)
            times.append(time.perf_counter() - started)
        costs[size] = min(times) * 1000.0 / size
    return costs


def best_batch(costs: dict[int, float], slack: float = SLACK) -> int:
    """The largest batch whose cost per play is within ``slack`` of the cheapest batch's: bigger batches
    than the cheapest only while they cost (almost) nothing extra, so a queue drains in few calls."""
    cheapest = min(costs.values())
    return max(size for size, cost in costs.items() if cost <= cheapest * (1.0 + slack))


def measure(run: Runner, inputs_for: Callable[[int], dict[str, Any]], artifact: str) -> dict[str, Any]:
    """The manifest's ``batching`` entry: per-play cost (encoding and model call) by batch size and the batch
    cap it implies."""
    costs = ms_per_play(lambda size: run(inputs_for(size)))
    return {
        "artifact": artifact,
        "modes": 1,  # the default request decodes the most likely mode only
        "threads": 1,
        "ms_per_play": {str(size): round(cost, 4) for size, cost in costs.items()},
        "max_batch": best_batch(costs),
        "slack": SLACK,
    }
