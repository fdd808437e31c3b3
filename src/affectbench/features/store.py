"""Content-addressed, chunked, resumable feature cache.

Layout: ``$AFFECTBENCH_HOME/features/<extractor>-<identity hash>/`` holds
``identity.json`` and ``shards/*.npz`` (keys + float32 matrix). A key is the
hash of the item's *content* (audio bytes + segment times, or the text), so a
corpus moved to another folder still hits the cache, and an edited file does
not. Each finished chunk is written as its own shard, atomically (temp file +
rename): an interrupted extraction keeps every shard it wrote and the next run
computes only what is missing.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import stat
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..paths import home


class FileHashes:
    """sha1 of file contents, remembered by (path, size, mtime) so that unchanged files are not re-read."""

    def __init__(self, db: Path | None = None):
        self.db = db or home() / "filehash.sqlite"
        memory = db is None and getattr(_THREAD, "memory", False)  # see memory_only()
        self._con = sqlite3.connect(":memory:" if memory else self.db, timeout=30)
        self._con.execute("CREATE TABLE IF NOT EXISTS h (path TEXT PRIMARY KEY, size INT, mtime INT, sha1 TEXT)")
        self._pending: list = []
        self._memo: dict = {}  # path -> (size, mtime, sha1): many segments of one recording hash it once

    def get(self, path: str) -> str | None:
        tar = path.startswith("tar://")
        try:
            if tar:  # a member of a corpus shard: keyed by the member's size and the shard's mtime
                from .. import tario

                size, mtime = tario.stat_key(path)
            else:
                st = os.stat(path)
                if not stat.S_ISREG(st.st_mode):  # a folder, a FIFO (would block), a device
                    return None
                size, mtime = st.st_size, st.st_mtime_ns
        except Exception:
            return None
        row = self._memo.get(path) or self._con.execute("SELECT size, mtime, sha1 FROM h WHERE path=?",
                                                        (path,)).fetchone()
        if row and row[0] == size and row[1] == mtime:
            return row[2]
        h = hashlib.sha1()
        if tar:
            try:
                h.update(tario.open_member(path))
            except Exception:
                return None
        else:
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        h.update(block)
            except OSError:  # unreadable: no key, so the extractor reports the file by name
                return None
        digest = h.hexdigest()
        self._pending.append((path, size, mtime, digest))
        self._memo[path] = (size, mtime, digest)
        return digest

    def close(self):
        if self._pending:
            self._con.executemany("INSERT OR REPLACE INTO h VALUES (?,?,?,?)", self._pending)
            self._con.commit()
        self._con.close()


def files_fingerprint(paths, base: Path | None = None) -> str:
    """Hash of files' names and full contents (sha1 remembered by path/size/mtime).

    Full content, not a sample: a checkpoint fine-tuned in place keeps its size and its
    safetensors header, and may change only tensors in the middle of the file.
    """
    h = hashlib.sha256()
    hashes = FileHashes()
    try:
        for p in paths:
            p = Path(p)
            name = p.relative_to(base).as_posix() if base else p.name
            h.update(f"{name}|{hashes.get(str(p))}\n".encode())
    finally:
        hashes.close()
    return h.hexdigest()[:16]


def folder_fingerprint(d: Path) -> str:
    """:func:`files_fingerprint` of every file in a model folder (hidden files left out)."""
    d = Path(d)
    return files_fingerprint(sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")), d)


def _num(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.4f}"


def media_item(record: dict, modality: str) -> dict:
    """The item an extractor of ``modality`` sees: for video, the segment is the video segment.

    IEMOCAP keeps one AVI per dialogue and each turn's span inside it in ``video_start`` /
    ``video_end``; ``start``/``end`` describe the turn's audio. A video extractor that read
    ``start``/``end`` (or none) would give every turn the whole dialogue's faces.
    """
    item = dict(record)
    if modality == "video":
        item["start"], item["end"] = record.get("video_start"), record.get("video_end")
    return item


def content_key(item: dict, modality: str, hashes: FileHashes) -> str:
    """What the features of one item depend on: the media bytes and the segment (or the text).

    ``item`` is a :func:`media_item` (its ``start``/``end`` are the modality's segment).
    """
    if modality == "text":
        t = item.get("text")
        return "t" + hashlib.sha1(("" if t is None else str(t)).encode()).hexdigest()
    path = item.get(modality)
    digest = hashes.get(path) if path else None
    if digest is None:  # missing media: a key that never hits and never merges two utterances
        return f"missing:{item.get('id')}:{path}"
    return "a" + hashlib.sha1(f"{digest}|{_num(item.get('start'))}|{_num(item.get('end'))}".encode()).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _store_error(e: OSError, folder: Path):
    """The feature cache cannot be written: say where, why, and that nothing written is lost."""
    import errno

    from ..errors import AffectbenchError

    what = ("no space left on the device" if e.errno == errno.ENOSPC else
            f"cannot write there ({e.strerror or e})")
    return AffectbenchError(
        f"{folder}: {what}. Features cached before this are kept; free space or set "
        "AFFECTBENCH_HOME to a writable folder with room, then run the same command again")


_THREAD = threading.local()


@contextmanager
def memory_only():
    """Stores (and file hashes) opened on this thread inside the block neither read nor write
    the disk caches.

    For ``affectbench serve``: every upload is a new temp file, so its features are never
    reused, and a cache on disk would grow with every request (and be re-read by each one).
    """
    old = getattr(_THREAD, "memory", False)
    _THREAD.memory = True
    try:
        yield
    finally:
        _THREAD.memory = old


class FeatureStore:
    def __init__(self, identity: dict, ident_hash: str, root: Path | None = None):
        self.dir = (root or home() / "features") / f"{identity['name']}-{ident_hash}"
        self.shards = self.dir / "shards"
        self.memory = getattr(_THREAD, "memory", False)
        self._index: dict[str, np.ndarray] | None = {} if self.memory else None
        if self.memory:
            return
        ident = self.dir / "identity.json"
        try:
            self.shards.mkdir(parents=True, exist_ok=True)
            if not ident.exists():
                _atomic_write(ident, json.dumps(identity, indent=2, sort_keys=True).encode())
        except OSError as e:
            raise _store_error(e, self.dir) from None

    def _load(self) -> dict[str, np.ndarray]:
        if self._index is None:
            idx: dict[str, np.ndarray] = {}
            for p in sorted(self.shards.glob("*.npz")):
                try:
                    with np.load(p, allow_pickle=False) as z:
                        keys, X = z["keys"], z["X"]
                except Exception:  # a shard cut off mid-write by a crash before rename cannot exist;
                    continue       # anything unreadable is ignored and recomputed
                finite = np.isfinite(X).all(1) if X.ndim == 2 else np.ones(len(keys), bool)
                for k, row, good in zip(keys.tolist(), X, finite):
                    if good:  # a non-finite row (written by an older version) is recomputed
                        idx[k] = row
            self._index = idx
        return self._index

    def missing(self, keys: list[str]) -> list[str]:
        idx = self._load()
        return [k for k in dict.fromkeys(keys) if k not in idx]

    def write(self, keys: list[str], X: np.ndarray) -> None:
        if not keys:
            return
        if self.memory:
            self._index.update(zip(keys, X))
            return
        name = f"{uuid.uuid4().hex}.npz"
        tmp = self.shards / f".{name}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, keys=np.asarray(keys), X=np.asarray(X, dtype=np.float32))
            os.replace(tmp, self.shards / name)
        except BaseException as e:  # disk full, read-only, Ctrl-C: no half-written shard stays behind
            tmp.unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise _store_error(e, self.shards) from None
            raise
        idx = self._load()
        for k, row in zip(keys, X):
            idx[k] = row

    def get(self, keys: list[str]) -> np.ndarray:
        idx = self._load()
        return np.stack([idx[k] for k in keys]) if keys else np.zeros((0, 0), np.float32)

    def __len__(self):
        return len(self._load())
