"""Work across clients: texts and decoded clips grouped into one model call, media jobs through a bounded pool.

Written here rather than taken from a library because it is ~80 lines of asyncio and the
serving libraries that batch (Ray Serve, BentoML, Triton) each bring a runtime of their own.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from .limits import Limits, ServeError


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    largest: int = 0


class Batcher:
    """Requests that arrive within ``wait_s`` of each other (up to ``max_batch``) share one call.

    ``run(payloads) -> list[result]`` (one result per payload) runs on one of ``workers``
    threads; while every worker is busy, new requests pile up into the next batch, so the
    batches grow with the load. Used for texts (one worker) and decoded audio clips.
    """

    def __init__(self, run: Callable[[list], list], max_batch: int, wait_s: float, workers: int = 1,
                 name: str = "batch"):
        self.run, self.max_batch, self.wait_s = run, max_batch, wait_s
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stats = BatchStats()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self._slots = asyncio.Semaphore(workers)
        self._task: asyncio.Task | None = None
        self._running: set = set()

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self):
        if self._task:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, payloads: list) -> list:
        if self._task is None:
            self.start()
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((payloads, fut))
        return await fut

    async def _gather(self):
        first = await self.queue.get()
        batch, n = [first], len(first[0])
        deadline = time.monotonic() + self.wait_s
        while n < self.max_batch:
            left = deadline - time.monotonic()
            try:
                nxt = self.queue.get_nowait() if left <= 0 else await asyncio.wait_for(self.queue.get(), left)
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            batch.append(nxt)
            n += len(nxt[0])
        return batch

    async def _loop(self):
        while True:
            await self._slots.acquire()
            try:
                batch = await self._gather()
            except BaseException:
                self._slots.release()
                raise
            task = asyncio.get_running_loop().create_task(self._call(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _call(self, batch):
        payloads = [p for ps, _ in batch for p in ps]
        try:
            out = await asyncio.get_running_loop().run_in_executor(self._pool, self.run, payloads)
        except Exception as e:  # every waiter hears about it; the loop goes on
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        finally:
            self._slots.release()
        self.stats.batches += 1
        self.stats.items += len(payloads)
        self.stats.largest = max(self.stats.largest, len(payloads))
        i = 0
        for ps, fut in batch:
            if not fut.done():
                fut.set_result(out[i:i + len(ps)])
            i += len(ps)


class JobPool:
    """At most ``max_jobs`` media jobs run (threads); ``max_queue`` more may wait; then 503.

    A job is admitted before its body is read, so a flood is refused before it uploads.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self.pending = 0
        self.done = 0
        self._sem = asyncio.Semaphore(limits.max_jobs)
        self._pool = ThreadPoolExecutor(limits.max_jobs, thread_name_prefix="media-job")

    def admit(self):
        if self.pending >= self.limits.max_jobs + self.limits.max_queue:
            raise ServeError(503, "busy", f"{self.pending} jobs running or waiting (limit "
                                          f"{self.limits.max_jobs} + {self.limits.max_queue} queued); "
                                          "try again shortly",
                             headers={"Retry-After": str(self.limits.retry_after_s)})
        self.pending += 1
        return _Admission(self)

    async def run(self, fn, *args):
        async with self._sem:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def shutdown(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Admission:
    def __init__(self, pool: JobPool):
        self.pool = pool

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.pending -= 1
        self.pool.done += 1
