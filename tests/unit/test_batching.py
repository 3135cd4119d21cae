"""MicroBatcher: coalescing, fan-out, bounds and draining."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from nfldeploy.serving.batching import DeadlineExceeded, Draining, MicroBatcher, ModelFailed, QueueFull


class SlowDoubler:
    def __init__(self, delay: float = 0.02) -> None:
        self.delay = delay
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> list[int]:
        time.sleep(self.delay)
        with self.lock:
            self.batches.append(list(items))
        return [2 * item for item in items]


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize("threaded", [True, False])
def test_concurrent_submissions_share_model_calls_and_get_their_own_results(threaded: bool) -> None:
    model = SlowDoubler()

    async def scenario() -> list[int]:
        batcher = MicroBatcher(model, ThreadPoolExecutor(1) if threaded else None, max_batch=8)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
        await batcher.drain()
        return list(results)

    assert _run(scenario()) == [2 * i for i in range(20)]
    assert sum(len(b) for b in model.batches) == 20
    assert len(model.batches) < 20 and max(len(b) for b in model.batches) <= 8


def test_a_lone_request_is_not_held_back() -> None:
    model = SlowDoubler(delay=0.0)

    async def scenario() -> float:
        batcher = MicroBatcher(model, ThreadPoolExecutor(1), max_batch=32, max_wait=0.0)
        batcher.start()
        started = time.perf_counter()
        await batcher.submit(1)
        elapsed = time.perf_counter() - started
        await batcher.drain()
        return elapsed

    assert _run(scenario()) < 0.5
    assert model.batches == [[1]]


def test_max_wait_gathers_stragglers() -> None:
    model = SlowDoubler(delay=0.0)

    async def scenario() -> None:
        batcher = MicroBatcher(model, ThreadPoolExecutor(1), max_batch=32, max_wait=0.2)
        batcher.start()

        async def late(i: int) -> int:
            await asyncio.sleep(0.02 * i)
            return await batcher.submit(i)

        await asyncio.gather(*(late(i) for i in range(4)))
        await batcher.drain()

    _run(scenario())
    assert model.batches == [[0, 1, 2, 3]]


def test_queue_bound_and_drain() -> None:
    model = SlowDoubler(delay=0.05)

    async def scenario() -> tuple[list[object], list[int]]:
        batcher = MicroBatcher(model, ThreadPoolExecutor(1), max_batch=2, queue_size=4)
        batcher.start()
        tasks = [asyncio.create_task(batcher.submit(i)) for i in range(10)]
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        # Queued work finishes during a drain; new work is refused.
        queued = [asyncio.create_task(batcher.submit(i)) for i in range(3)]
        await asyncio.sleep(0)
        await batcher.drain()
        done = [t.result() for t in queued]
        with pytest.raises(Draining):
            await batcher.submit(99)
        return outcomes, done

    outcomes, done = _run(scenario())
    assert any(isinstance(o, QueueFull) for o in outcomes)
    assert [o for o in outcomes if not isinstance(o, Exception)]
    assert done == [0, 2, 4]


def test_a_failing_model_call_fails_its_requests_only() -> None:
    calls = []

    def flaky(items: Sequence[int]) -> list[int]:
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("boom")
        return list(items)

    async def scenario() -> tuple[object, int]:
        batcher = MicroBatcher(flaky, ThreadPoolExecutor(1))
        batcher.start()
        first = await asyncio.gather(batcher.submit(1), return_exceptions=True)
        second = await batcher.submit(2)
        await batcher.drain()
        return first[0], second

    error, second = _run(scenario())
    assert isinstance(error, ModelFailed) and isinstance(error.__cause__, RuntimeError) and second == 2


def test_a_dead_worker_is_restarted_and_a_failing_bookkeeping_step_fails_only_its_batch() -> None:
    broken = {"on": True}

    def on_batch(size: int, seconds: float) -> None:
        if broken["on"]:
            broken["on"] = False
            raise RuntimeError("metrics exploded")

    async def scenario() -> tuple[object, int, int]:
        batcher = MicroBatcher(SlowDoubler(0.0), None, on_batch=on_batch)
        batcher.start()
        first = (await asyncio.gather(batcher.submit(1), return_exceptions=True))[0]
        second = await batcher.submit(2)
        assert batcher._worker is not None
        batcher._worker.cancel()  # the worker is gone, however it went
        await asyncio.sleep(0)
        third = await asyncio.wait_for(batcher.submit(3), 2.0)  # not left hanging: a new worker answers
        await batcher.drain()
        return first, second, third

    first, second, third = _run(scenario())
    assert isinstance(first, ModelFailed) and "metrics exploded" in str(first)
    assert (second, third) == (4, 6)


def test_a_hanging_model_call_answers_past_the_deadline() -> None:
    release = threading.Event()

    def hangs_once(items: Sequence[int]) -> list[int]:
        if 99 in items:
            release.wait(5)
        return [2 * item for item in items]

    async def scenario() -> tuple[object, int, float]:
        batcher = MicroBatcher(hangs_once, ThreadPoolExecutor(1), max_batch=1)
        batcher.start()
        started = time.monotonic()
        hung = (await asyncio.gather(batcher.submit(99, timeout=0.2), return_exceptions=True))[0]
        waited = time.monotonic() - started
        release.set()
        after = await batcher.submit(5, timeout=2.0)
        await batcher.drain()
        return hung, after, waited

    hung, after, waited = _run(scenario())
    assert isinstance(hung, DeadlineExceeded) and waited < 2.0
    assert after == 10
