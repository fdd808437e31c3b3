"""VEATIC (Ren et al., WACV 2024): 124 video clips with continuous valence/arousal per frame.

Native layout (veatic.github.io download)::

    videos/0.mp4 … videos/123.mp4
    rating_averaged/0_valence.csv, 0_arousal.csv    one rating per video frame and line, in [-1, 1]
                                                     (the mean of the raters' continuous traces)

The ratings are read as time series: :meth:`VEATIC.ratings` returns a frame-by-frame table
(frame, time, valence, arousal) for one clip, checked line by line (a bad value is named
by file and line; valence and arousal must have one rating per frame each).

Manifest, two shapes:

- default, one row per clip (the pooled view for the current per-utterance heads):
  ``valence``/``arousal`` = the clip's mean rating; ``video`` the mp4; ``meta`` =
  ``{"n_frames", "valence_csv", "arousal_csv"}``. Protocol: VEATIC's published split is
  temporal inside each clip, which per-clip rows cannot follow, so five clip-disjoint folds
  are built by rule: clip *n* goes to ``fold(n mod 5 + 1)`` (``session``).
- ``VEATIC(window=10.0)``: one row per window of that many seconds, cut from the ratings at
  the clip's frame rate (read from the mp4), with ``video_start``/``video_end`` and the
  window's mean ratings. Split as in the authors' code: per clip, the first 70 % of frames
  are train + validation (the last 15 % of those are ``dev``), the last 30 % ``test``;
  windows never cross those boundaries.

No speaker or character ids exist, so no protocol here claims speaker independence.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import fold_name, line_problem, not_root, read_text
from .base import Corpus, register

CLIP = re.compile(r"^(\d+)\.mp4$")
FOLDS = 5


def read_series(path: Path, issues) -> np.ndarray | None:
    """One rating per line (the first comma-separated field), each in [-1, 1]."""
    vals = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        field = line.split(",")[0].strip()
        if not field:
            continue
        try:
            v = float(field)
        except ValueError:
            v = float("nan")
        if not -1.0 <= v <= 1.0:
            line_problem(issues, path, lineno, f"rating {field!r} is not a number in [-1, 1]")
            return None
        vals.append(v)
    return np.asarray(vals, dtype=np.float64)


def split_bounds(n: int) -> tuple[int, int]:
    """(end of train, end of dev) in frames: the authors' 70 % train+val, 15 % of it val."""
    trainval = int(n * 0.7)
    return int(trainval * 0.85), trainval


@register
class VEATIC(Corpus):
    name = "veatic"
    title = "VEATIC"
    description = ("124 film and home-video clips with continuous per-frame valence and arousal "
                   "(video; regression).")
    modalities = ("video",)
    language = ""
    task = "regression"
    targets = ("valence", "arousal")
    licence = "research use (VEATIC terms; clips from films and online videos)"
    canonical: dict = {}
    default_protocol = {"kind": "logo", "group": "session", "speaker_independent": False}
    expected = {"total": 124}
    layout_hint = "videos/0.mp4 … videos/123.mp4 and rating_averaged/0_valence.csv, 0_arousal.csv …"
    labelset = LabelSet((), {
        "va": LabelView.regression("va", ("valence", "arousal"), "mean valence and arousal (-1..1)"),
        "valence": LabelView.regression("valence", ("valence",), "valence (-1..1)"),
        "arousal": LabelView.regression("arousal", ("arousal",), "arousal (-1..1)"),
    }, default_view="va")

    def __init__(self, window: float | None = None):
        if window is not None and not window > 0:
            raise CorpusError(f"veatic: window must be a positive number of seconds, not {window!r}")
        self.window = window
        if window is not None:
            self.default_protocol = {"kind": "official", "speaker_independent": False}
            self.expected = {}

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        videos, ratings = root / "videos", root / "rating_averaged"
        if not videos.is_dir() or not ratings.is_dir():
            sub = next((root / n for n in sorted(os.listdir(root)) if (root / n / "rating_averaged").is_dir()), None)
            if sub is None:
                raise not_root(root, self.title, "no videos/ and rating_averaged/ folders", self.layout_hint)
            videos, ratings = sub / "videos", sub / "rating_averaged"
        rows = []
        for n in sorted((int(m.group(1)) for m in map(CLIP.match, os.listdir(videos)) if m), key=int):
            series = self._series(ratings, n, issues)
            if series is None:
                continue
            rows += self._rows(videos / f"{n}.mp4", n, series, ratings)
        if not rows:
            raise not_root(root, self.title, "no clip with both ratings", self.layout_hint)
        return normalize(rows, self.name)

    def _series(self, ratings: Path, n: int, issues):
        paths = [ratings / f"{n}_{d}.csv" for d in ("valence", "arousal")]
        miss = [p for p in paths if not p.is_file()]
        if miss:
            issues.problem(miss[0], f"missing: the ratings of videos/{n}.mp4")
            return None
        v, a = (read_series(p, issues) for p in paths)
        if v is None or a is None:
            return None
        if len(v) != len(a) or not len(v):
            issues.problem(paths[1], f"{len(a)} arousal ratings, {len(v)} valence ratings: one per frame each")
            return None
        return v, a

    def _rows(self, video: Path, n: int, series, ratings: Path) -> list[dict]:
        v, a = series
        meta = {"n_frames": len(v), "valence_csv": str(ratings / f"{n}_valence.csv"),
                "arousal_csv": str(ratings / f"{n}_arousal.csv")}
        if self.window is None:
            return [{"id": str(n), "session": fold_name(n + 1, FOLDS), "dialogue": str(n), "video": str(video),
                     "valence": float(v.mean()), "arousal": float(a.mean()), "meta": json.dumps(meta)}]
        fps = _fps(video)
        step = max(1, int(round(self.window * fps)))
        tr, dv = split_bounds(len(v))
        out, meta_json = [], json.dumps(meta | {"fps": fps})  # the same for every window
        for split, lo, hi in (("train", 0, tr), ("dev", tr, dv), ("test", dv, len(v))):
            for s in range(lo, hi, step):
                e = min(s + step, hi)
                out.append({"id": f"{n}_{s:06d}", "dialogue": str(n), "turn": s, "split": split,
                            "video": str(video), "video_start": s / fps, "video_end": e / fps,
                            "valence": float(v[s:e].mean()), "arousal": float(a[s:e].mean()),
                            "meta": meta_json})
        return out

    def ratings(self, manifest_row) -> pd.DataFrame:
        """The frame-by-frame ratings of a manifest row's clip: frame, time (s), valence, arousal."""
        from .base import Issues

        meta = json.loads(manifest_row["meta"])
        v = read_series(Path(meta["valence_csv"]), Issues())
        a = read_series(Path(meta["arousal_csv"]), Issues())
        fps = meta.get("fps") or _fps(Path(manifest_row["video"]))
        return pd.DataFrame({"frame": np.arange(len(v)), "time": np.arange(len(v)) / fps,
                             "valence": v, "arousal": a})

    def caveats(self, df: pd.DataFrame) -> list[str]:
        if self.window is None:
            return ["one row per clip with its mean ratings (the per-frame series are in the CSVs, "
                    "VEATIC.ratings); clip-disjoint folds by rule (clip number mod 5), not the "
                    "published temporal split"]
        return [f"{self.window:g}-s windows; temporal split inside each clip (first 70 % train/dev, "
                "last 30 % test) as published: train and test share clips and characters"]


def _fps(video: Path) -> float:
    import av

    try:
        with av.open(str(video)) as c:
            rate = c.streams.video[0].average_rate
    except (av.error.FFmpegError, IndexError, OSError) as e:
        raise CorpusError(f"{video}: cannot read the frame rate ({e}); windows need it") from None
    return float(rate) if rate else 25.0
