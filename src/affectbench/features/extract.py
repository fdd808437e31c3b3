"""Run an extractor over a manifest through the cache, in worker processes.

Only items whose content key is not yet in the store are computed. Results are
written chunk by chunk as they arrive, so a crash, Ctrl-C or a corrupt file
loses at most the chunks still in flight. A failing item is reported by path;
under ``on_error='skip'`` it is left out and counted, under ``'raise'`` the
run stops after saving everything already computed.
"""
from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import MediaError
from .base import Extractor, extractor_class, get_extractor
from .store import FeatureStore, FileHashes, content_key, media_item

ITEM_COLUMNS = ("id", "audio", "start", "end", "text", "video", "video_start", "video_end", "image")


@dataclass
class Extraction:
    X: np.ndarray  # rows for the manifest rows where ok is True, in manifest order
    ok: np.ndarray  # bool per manifest row
    failures: list[tuple[str, str]] = field(default_factory=list)
    computed: int = 0
    cached: int = 0
    store_dir: str = ""


_WORKER: Extractor | None = None


def _init_worker(name: str, config: dict, threads: int) -> None:
    global _WORKER
    import signal

    # Ctrl-C reaches every process of the terminal's group: the parent alone handles it (it
    # keeps what was written and stops the pool), so workers do not each print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import sys

    # torch's share of the cores, so that workers do not oversubscribe them; torch is imported
    # only for an extractor that uses it (an openSMILE worker importing it costs ~150 MB and 2 s)
    cls = extractor_class(name)
    if "torch" in sys.modules or cls.uses_torch or cls.start_method == "spawn":
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    _WORKER = get_extractor(name, **config)
    _WORKER.ensure_setup()


def _work(items: list[dict]):
    return _run_chunk(_WORKER, items)


def _run_chunk(ex: Extractor, items: list[dict]):
    res = ex.process_batch(items)
    ok_keys, ok_X, fails = [], [], []
    for it, r in zip(items, res):
        if not isinstance(r, MediaError) and not np.isfinite(r).all():
            # NaN features are a failure of that file, never a cached success: one NaN row
            # spreads through fold standardisation into every prediction
            r = MediaError(it.get(ex.modality) or f"utterance {it.get('id')}", ex.nonfinite_problem(it, r))
        if isinstance(r, MediaError):
            fails.append((r.path, r.problem))
        else:
            ok_keys.append(it["_key"])
            ok_X.append(r)
    return ok_keys, (np.stack(ok_X) if ok_X else None), fails


EXECUTORS = ("local", "ray")


def item_records(df: pd.DataFrame, modality: str) -> list[dict]:
    """Manifest rows as the items an extractor of ``modality`` sees (video: its segment)."""
    cols = [c for c in ITEM_COLUMNS if c in df.columns]
    return [media_item(r, modality) for r in df[cols].to_dict("records")]


def content_keys(ex: Extractor, df: pd.DataFrame) -> list[str]:
    """One content key per manifest row: cheap for unchanged files (hashes keyed by size/mtime)."""
    hashes = FileHashes()
    try:
        return [content_key(r, ex.modality, hashes) for r in item_records(df, ex.modality)]
    finally:
        hashes.close()


def extract(ex: Extractor, df: pd.DataFrame, *, jobs: int = 1, on_error: str = "raise",
            progress: Callable[[int, int], None] | None = None, executor: str = "local",
            address: str | None = None, keys: list[str] | None = None) -> Extraction:
    """``keys``: the rows' content keys when the caller computed them already (the runner
    does, for the run identity)."""
    records = item_records(df, ex.modality)
    if keys is None:
        keys = content_keys(ex, df)
    store = FeatureStore(ex.identity(), ex.identity_hash())
    todo_keys = set(store.missing(keys))
    items, seen = [], set()
    for k, r in zip(keys, records):
        if k in todo_keys and k not in seen:
            seen.add(k)
            items.append({**{c: _py(v) for c, v in r.items()}, "_key": k})
    if ex.modality == "text":
        # neighbours of similar length share a chunk, so the batches inside it pad little
        # (GoEmotions, batches of 64: 1.46x the real tokens when chunks keep manifest order, 1.01x sorted)
        items.sort(key=lambda it: len(str(it.get("text") or "")))
    failures: list[tuple[str, str]] = []
    total = len(items)
    if progress:
        progress(0, total)
        if callable(getattr(progress, "cached", None)):  # e.g. a Reporter task: show what was reused
            progress.cached(len(set(keys)) - total)
    chunks = [items[i:i + ex.chunk_size] for i in range(0, total, ex.chunk_size)]
    stop = False

    def handle(result):
        nonlocal stop
        ok_keys, X, fails = result
        if X is not None:
            store.write(ok_keys, X)
        failures.extend(fails)
        if fails and on_error == "raise":
            stop = True
        if progress:
            progress(len(ok_keys) + len(fails), total)

    if executor not in EXECUTORS:
        from ..errors import SpecError

        raise SpecError(f"unknown executor '{executor}'. Valid: {', '.join(EXECUTORS)}")
    if executor == "ray" and chunks:
        _ray_map(ex, chunks, handle, jobs, address, lambda: stop)
    elif jobs <= 1 or len(chunks) <= 1:
        ex.ensure_setup()
        for ch in chunks:
            handle(_run_chunk(ex, ch))
            if stop:
                break
    else:
        if ex.start_method == "fork":
            ex.preload()
        ctx = mp.get_context(ex.start_method)
        threads = max(1, (mp.cpu_count() or 1) // jobs)
        pool = ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker,
                                   initargs=(ex.name, ex.config, threads))
        pending: set = set()
        try:
            it = iter(chunks)
            # keep a bounded queue so that stopping early leaves little in flight
            for ch in it:
                pending.add(pool.submit(_work, ch))
                if len(pending) >= 2 * jobs:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    handle(fut.result())
                if not stop:
                    for ch in it:
                        pending.add(pool.submit(_work, ch))
                        if len(pending) >= 2 * jobs:
                            break
        except KeyboardInterrupt:
            _stop_pool(pool, pending, handle)
            raise
        pool.shutdown(wait=True)
    if failures and on_error == "raise":
        path, problem = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise MediaError(path, f"{problem}{more}. Features extracted so far are cached; fix or "
                               "remove the file, or set on_error = \"skip\" to leave it out")
    bad = set(store.missing(list(todo_keys))) if failures else set()
    ok = np.array([k not in bad for k in keys], dtype=bool)
    X = store.get([k for k, o in zip(keys, ok) if o])
    return Extraction(X, ok, failures, computed=total - len(failures),
                      cached=len(set(keys)) - total, store_dir=str(store.dir))


def _stop_pool(pool: ProcessPoolExecutor, pending, handle) -> None:
    """After Ctrl-C: queued chunks are cancelled, the chunks the workers hold (they ignore
    Ctrl-C) are finished and stored, so that nothing computed is lost. A second Ctrl-C ends
    the workers at once. The pool is always joined before returning: an executor left
    running races with interpreter exit and prints a traceback."""
    for f in pending:
        f.cancel()
    try:
        pool.shutdown(wait=True, cancel_futures=True)
        for f in pending:
            if f.done() and not f.cancelled() and f.exception() is None:
                handle(f.result())
    except KeyboardInterrupt:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=5)
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except Exception:  # a broken pool after terminate: nothing left to save
            pass


def _ray_map(ex: Extractor, chunks, handle, jobs: int, address: str | None, stopped) -> None:
    """The same map on a Ray cluster: one extractor actor per worker, shards written by the driver.

    Workers only compute; the driver writes each finished chunk as its own shard, so a lost
    worker loses at most the chunk it held (Ray restarts the actor and retries the task).
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError:  # pragma: no cover
        from ..errors import AffectbenchError

        raise AffectbenchError("executor 'ray' needs Ray: pip install 'affectbench[ray]'") from None
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": max(jobs, 1)}
        ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kw)
    n = max(1, jobs if not address else int(ray.cluster_resources().get("CPU", jobs)))

    @ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)
    class Worker:
        def __init__(self, name, config):
            self.ex = get_extractor(name, **config)
            self.ex.ensure_setup()

        def run(self, items):
            return _run_chunk(self.ex, items)

    pool = ActorPool([Worker.remote(ex.name, ex.config) for _ in range(min(n, len(chunks)))])
    for result in pool.map_unordered(lambda a, ch: a.run.remote(ch), chunks):
        handle(result)
        if stopped():
            break


def _py(v):
    if v is None or v is pd.NA:
        return None
    if isinstance(v, float) and v != v:
        return None
    return v
