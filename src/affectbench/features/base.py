"""The extractor contract and registry.

An extractor is a named, configured encoder for one modality. Its *identity*
(name, config, model-file fingerprint, library versions) keys the feature
cache: change any of them and features are recomputed, change nothing and they
are read back. Extractors that must be fitted on data (TF-IDF) declare
``per_fold = True``; they are fitted on each training fold and never cached.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import numpy as np

from ..errors import MediaError, SpecError, UnknownNameError

_REGISTRY: dict[str, type["Extractor"]] = {}

#: below this an audio clip is named "too short" when its features are not finite
MIN_SECONDS = 0.25


def register(cls):
    _REGISTRY[cls.name] = cls
    return cls


def extractor_names() -> list[str]:
    return sorted(_REGISTRY)


def get_extractor(name: str, **config) -> "Extractor":
    if name not in _REGISTRY:
        raise UnknownNameError("extractor", name, _REGISTRY)
    return _REGISTRY[name](**config)


def extractor_class(name: str) -> type["Extractor"]:
    if name not in _REGISTRY:
        raise UnknownNameError("extractor", name, _REGISTRY)
    return _REGISTRY[name]


class Extractor:
    name: ClassVar[str]
    modality: ClassVar[str]  # "audio" | "text"
    description: ClassVar[str] = ""
    per_fold: ClassVar[bool] = False
    #: config keys accepted, with defaults
    defaults: ClassVar[dict[str, Any]] = {}
    #: items per worker task; large for cheap items so that process overhead stays small
    chunk_size: ClassVar[int] = 16
    #: whether the features are standardised by the normaliser (False for TF-IDF)
    standardise: ClassVar[bool] = True
    #: how worker processes start; "spawn" for extractors that hold torch state
    start_method: ClassVar[str] = "fork"
    #: whether a worker sets torch's thread count for it (spawned extractors do too); the
    #: others never import torch in their workers
    uses_torch: ClassVar[bool] = False
    #: what the extractor needs before it can run, shown by `affectbench extractors list`
    needs: ClassVar[str] = "nothing (ships with its package)"
    #: trailing columns of each cached vector that are counts, not features (e.g. face
    #: extractors store [frames, frames_without_face]); split off before training
    stat_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **config):
        unknown = sorted(set(config) - set(self.defaults))
        if unknown:
            raise SpecError(f"extractor '{self.name}': unknown option(s) {unknown}. "
                            f"Valid: {sorted(self.defaults) or 'none'}")
        self.config = {**self.defaults, **config}
        self._ready = False

    #: true for extractors that need a model folder from the user (nothing ships with them)
    needs_model: ClassVar[bool] = False
    #: bump when what the extractor computes from the same inputs changes (pooling, chunking,
    #: resampling …): it is part of the identity, so cached features and finished runs made
    #: by the old algorithm are never reused
    algo_version: ClassVar[str] = "1"

    @classmethod
    def ready(cls) -> bool:
        """Whether it can run offline right now with what is installed (no model folder needed)."""
        return not cls.needs_model

    # -- identity -------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        return {}

    def model_fingerprint(self) -> str:
        return ""

    def identity(self) -> dict:
        return {"name": self.name, "config": self.config, "versions": self.versions(),
                "model": self.model_fingerprint(), "algo_version": self.algo_version}

    def identity_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    # -- frame sequences ----------------------------------------------------------
    #: extractors with a ``frames`` option also store a frame sequence per item (openSMILE
    #: low-level descriptors, token embeddings, per-frame face vectors) for frame-level heads
    frames_capable: ClassVar[bool] = False

    def frames_dir(self):
        from ..paths import home

        return home() / "features" / f"{self.name}-{self.identity_hash()}" / "frames"

    def write_frames(self, key: str, frames: np.ndarray) -> None:
        """Store one item's ``[t, d]`` sequence (float16, at most ``max_frames`` frames), atomically:
        written before the item's pooled row, so a cached row always has its frames."""
        arr = chunk_mean(np.asarray(frames, np.float32), int(self.config.get("max_frames") or 0))
        self.save_frames(key, arr)

    def save_frames(self, key: str, arr: np.ndarray) -> None:
        """``arr`` as float16 under the content key, via a temp file and a rename (a crash never
        leaves half a file where a reader looks)."""
        import os

        d = self.frames_dir()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f".{key}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, arr.astype(np.float16))
        os.replace(tmp, d / f"{key}.npy")

    def load_frames(self, keys: list[str], where: list[str] | None = None) -> list[np.ndarray]:
        d = self.frames_dir()
        out = []
        for i, k in enumerate(keys):
            p = d / f"{k}.npy"
            if not p.exists():
                raise MediaError(where[i] if where else k, f"no stored frames for '{self.name}' ({p}); "
                                 "extract again with frames = true")
            a = np.load(p).astype(np.float32)
            if a.ndim == 2:
                a = chunk_mean(a, int(self.config.get("max_frames") or 0))
            if a.ndim != 2:
                raise SpecError(f"extractor '{self.name}': stored frames have shape {a.shape}; frame-level "
                                "heads need one layer (set layer to a single layer, not \"all\")")
            out.append(a)
        return out

    def split_stats(self, X: np.ndarray) -> tuple[np.ndarray, dict]:
        """Separate trailing count columns from features; return (features, summed counts)."""
        k = len(self.stat_names)
        if not k or X.ndim != 2 or X.shape[1] < k:  # nothing extracted: no counts to split
            return X, {}
        return X[:, :-k], {n: int(X[:, -k + i].sum()) for i, n in enumerate(self.stat_names)}

    def describe_stats(self, stats: dict, failed: int = 0) -> str:
        return ""

    # -- work -----------------------------------------------------------------
    def preload(self) -> None:
        """Import heavy libraries in the parent before forking workers, so that each worker
        inherits them instead of importing them again (seconds saved per worker)."""

    def setup(self) -> None:
        """Load models; called once per worker process, lazily."""

    def ensure_setup(self):
        if not self._ready:
            self.setup()
            self._ready = True

    def process_one(self, item: dict) -> np.ndarray:
        raise NotImplementedError

    def nonfinite_problem(self, item: dict, x: np.ndarray) -> str:
        """Why an item's features came out NaN/inf, for the failure message (the item is a
        failure, never cached). Audio extractors look at the duration: openSMILE gives NaN
        for clips of a few samples."""
        bad = int((~np.isfinite(x)).sum())
        where = ""
        if self.modality == "audio" and item.get("audio"):
            try:
                from ..audio import duration

                d = duration(item["audio"], item.get("start"), item.get("end"))
            except Exception:
                d = None
            if d is not None and d < MIN_SECONDS:
                return f"too short: {d:.2f} s ({self.name} gives non-finite features below {MIN_SECONDS} s)"
            if d is not None:
                where = f" for {d:.2f} s of audio"
        return f"{self.name} gave non-finite features ({bad} of {x.size} values NaN/inf){where}"

    def process_batch(self, items: list[dict]) -> list[np.ndarray | MediaError]:
        """Per-item results; a failing item yields its MediaError, the others still count."""
        self.ensure_setup()
        out = []
        for it in items:
            try:
                out.append(np.asarray(self.process_one(it), dtype=np.float32))
            except MediaError as e:
                out.append(e)
            except Exception as e:  # the encoder itself failed on this input
                out.append(MediaError(_where(it, self.modality), f"{self.name} failed: {type(e).__name__}: {e}"))
        return out


def chunk_mean(frames: np.ndarray, max_frames: int) -> np.ndarray:
    """At most ``max_frames`` frames: means of equal consecutive chunks (MulT and its kin are
    quadratic in length; 50 frames keep a CPU fold in minutes). 0 keeps every frame."""
    if max_frames <= 0 or len(frames) <= max_frames:
        return frames
    return np.stack([c.mean(0) for c in np.array_split(frames, max_frames)])


def _where(item: dict, modality: str = "audio") -> str:
    return item.get(modality) or f"utterance {item.get('id')}"


def texts_by_length(items: list[dict]) -> tuple[list, list[tuple[int, str]]]:
    """Per-item result slots (empty texts already hold their MediaError) and the (index, text)
    pairs sorted by length, so that batches of neighbours waste little padding."""
    out: list = [None] * len(items)
    texts = []
    for i, it in enumerate(items):
        try:
            texts.append((i, text_of(it)))
        except MediaError as e:
            out[i] = e
    texts.sort(key=lambda t: len(t[1]))
    return out, texts


def text_of(item: dict) -> str:
    text = item.get("text")
    if text is None or (isinstance(text, float)) or not str(text).strip():
        raise MediaError(f"utterance {item.get('id')}", "empty text")
    return str(text)
