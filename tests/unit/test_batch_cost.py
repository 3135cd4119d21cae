"""Choosing the batch cap from the per-play cost the export measures."""

from __future__ import annotations

from nfldeploy.export.batch_cost import BATCH_SIZES, best_batch, ms_per_play


def test_a_compute_bound_model_is_not_batched_past_its_best_size() -> None:
    # the training project's model at its real size: bigger batches cost more per play
    assert best_batch({1: 19.0, 2: 19.5, 4: 21.5, 8: 22.0, 16: 24.0, 32: 25.0}) == 2
    assert best_batch({1: 10.0, 2: 11.5, 4: 12.0, 8: 13.0, 16: 14.0, 32: 15.0}) == 1


def test_an_overhead_bound_model_is_batched_as_far_as_it_gets_cheaper() -> None:
    assert best_batch({1: 2.3, 2: 1.6, 4: 1.2, 8: 1.0, 16: 0.95, 32: 0.97}) == 32
    assert best_batch({1: 2.3, 2: 1.6, 4: 1.2, 8: 1.0, 16: 0.9, 32: 1.5}) == 16


def test_every_batch_size_is_timed_on_its_own_inputs() -> None:
    seen: list[int] = []

    costs = ms_per_play(seen.append, rounds=2)
    assert list(costs) == list(BATCH_SIZES) and all(cost >= 0 for cost in costs.values())
    assert seen == [size for size in BATCH_SIZES for _ in range(3)]  # a warm-up and two timed rounds each
