"""Micro-batching: concurrent /predict requests share one model call; results fan back to each request.

Supervised: a model call that raises fails only its own requests (``ModelFailed``) and the worker goes on;
a worker that died is restarted by the next submit; every request may carry a deadline
(``DeadlineExceeded`` past it), so none is left waiting forever."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class QueueFull(Exception):
    """The batcher's queue is at its bound: answer 503 with Retry-After."""


class Draining(Exception):
    """The server is shutting down and takes no new work."""


class ModelFailed(Exception):
    """The model call that held this request raised; ``__cause__`` is what it raised."""


class DeadlineExceeded(Exception):
    """The request waited past its deadline (queued or in the model)."""


log = logging.getLogger("nfldeploy.serving")


class MicroBatcher(Generic[T, R]):
    """Coalesces items submitted concurrently into calls of ``run_batch`` of at most ``max_batch`` items.

    With ``max_wait`` 0 a batch is whatever is queued when the model becomes free, so a lone request never
    waits; under load requests pile up while the model runs and go together in the next call.

    With an ``executor`` the model runs on its thread (the loop stays free meanwhile); without one it runs
    in the loop itself, which saves a thread hand-off and GIL contention per call: the better choice when
    Python request handling, not the model, is the bottleneck (one or two cores).
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[T]], Sequence[R]],
        executor: ThreadPoolExecutor | None,
        max_batch: int = 32,
        max_wait: float = 0.0,
        queue_size: int = 256,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue(maxsize=queue_size)
        self.on_batch = on_batch
        self._worker: asyncio.Task[None] | None = None
        self._draining = False
        self._busy = False

    def start(self) -> None:
        """Start the worker on the running loop."""
        self._worker = asyncio.get_running_loop().create_task(self._work())

    def _supervise(self) -> None:
        """Restart a worker that is gone (it only ends by a bug or a cancel); log why it ended."""
        worker = self._worker
        if worker is not None and not worker.done():
            return
        if worker is not None and not worker.cancelled() and worker.exception() is not None:
            log.error("the batch worker died; restarting it", exc_info=worker.exception())
        self._busy = False
        self.start()

    async def submit(self, item: T, timeout: float | None = None) -> R:
        """Queue ``item`` and wait for its result, at most ``timeout`` seconds (``DeadlineExceeded`` then)."""
        if self._draining:
            raise Draining
        self._supervise()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((item, future))
        except asyncio.QueueFull:
            raise QueueFull from None
        if timeout is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            future.cancel()  # still queued: the worker skips it; in the model: its result is dropped
            raise DeadlineExceeded from None

    async def submit_many(self, items: Sequence[T], timeout: float | None = None) -> list[R]:
        """Queue all of ``items`` or none (``QueueFull`` when the queue lacks room for them all), and wait for
        their results; they are coalesced with other requests into calls of at most ``max_batch``."""
        if self._draining:
            raise Draining
        self._supervise()
        if self.queue.maxsize and self.queue.qsize() + len(items) > self.queue.maxsize:
            raise QueueFull
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            future: asyncio.Future[R] = loop.create_future()
            self.queue.put_nowait((item, future))
            futures.append(future)
        try:
            return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))
        except TimeoutError:
            for future in futures:
                future.cancel()
            raise DeadlineExceeded from None
        except BaseException:
            for future in futures:
                future.cancel()  # one failed: the others' answers are not wanted any more
            raise

    async def _collect(self) -> list[tuple[T, asyncio.Future[R]]]:
        batch = [await self.queue.get()]
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                batch.append(self.queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _work(self) -> None:
        while True:
            batch = await self._collect()
            self._busy = True
            live = [(item, future) for item, future in batch if not future.done()]
            try:
                await self._run(live)
            except Exception as exc:  # a bug past the model call: fail this batch, keep serving
                log.exception("the batch worker failed a batch")
                self._fail(live, exc)
            finally:
                self._busy = False
            # A model call in the loop never yields, and neither does get() on a non-empty queue: without
            # this, a deep queue would run call after call while /health and new requests wait.
            await asyncio.sleep(0)

    @staticmethod
    def _fail(live: list[tuple[T, asyncio.Future[R]]], exc: Exception) -> None:
        for _, future in live:
            if not future.done():
                failure = ModelFailed(f"{type(exc).__name__}: {exc}")
                failure.__cause__ = exc
                future.set_exception(failure)

    async def _run(self, live: list[tuple[T, asyncio.Future[R]]]) -> None:
        if not live:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        items = [item for item, _ in live]
        try:
            if self.executor is None:
                results = self.run_batch(items)
            else:
                results = await loop.run_in_executor(self.executor, self.run_batch, items)
            if len(results) != len(items):
                raise RuntimeError(f"the model answered {len(results)} of {len(items)} plays")
        except Exception as exc:
            log.exception("a model call failed", extra={"plays": len(items)})
            self._fail(live, exc)
            return
        if self.on_batch:
            self.on_batch(len(live), loop.time() - started)
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)

    def depth(self) -> int:
        """Items waiting."""
        return self.queue.qsize()

    async def drain(self, timeout: float = 30.0) -> None:
        """Take no new work, finish what is queued and the batch in progress, stop the worker."""
        self._draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._busy or not self.queue.empty()) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
