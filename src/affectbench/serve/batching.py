"""Work across clients: texts grouped into one model call, media jobs through a bounded pool.

Written here rather than taken from a library because it is ~80 lines of asyncio and the
serving libraries that batch (Ray Serve, BentoML, Triton) each bring a runtime of their own.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .limits import Limits, ServeError


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    largest: int = 0


class TextBatcher:
    """Texts that arrive within ``batch_wait_s`` of each other (up to ``max_batch``) share one call.

    ``run(texts) -> list[result]`` does the model call on a worker thread; the event loop
    keeps accepting requests meanwhile, and those pile up into the next batch.
    """

    def __init__(self, run: Callable[[list[str]], list], limits: Limits):
        self.run, self.limits = run, limits
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stats = BatchStats()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="text-batch")
        self._task: asyncio.Task | None = None

    def start(self):
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self):
        if self._task:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> list:
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, fut))
        return await fut

    async def _gather(self):
        first = await self.queue.get()
        batch, n = [first], len(first[0])
        deadline = time.monotonic() + self.limits.batch_wait_s
        while n < self.limits.max_batch:
            left = deadline - time.monotonic()
            try:
                nxt = self.queue.get_nowait() if left <= 0 else await asyncio.wait_for(self.queue.get(), left)
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            batch.append(nxt)
            n += len(nxt[0])
        return batch

    async def _loop(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            texts = [t for ts, _ in batch for t in ts]
            try:
                out = await loop.run_in_executor(self._pool, self.run, texts)
            except Exception as e:  # every waiter hears about it; the loop goes on
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            self.stats.batches += 1
            self.stats.items += len(texts)
            self.stats.largest = max(self.stats.largest, len(texts))
            i = 0
            for ts, fut in batch:
                if not fut.done():
                    fut.set_result(out[i:i + len(ts)])
                i += len(ts)


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
