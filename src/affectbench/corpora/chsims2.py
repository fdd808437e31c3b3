"""CH-SIMS v2.0 (Liu et al., ICMI 2022): Chinese video clips with multimodal and per-modality sentiment.

The supervised part (``ch-simsv2s``) as downloaded from the authors (github.com/thuiar/ch-sims-v2)::

    ch-simsv2s/meta.csv                      video_id, clip_id, text, label, label_T, label_A,
                                             label_V, annotation, mode (train / valid / test)
    ch-simsv2s/Raw/<video_id>/<clip_id>.mp4  clip ids zero-padded to 4 digits (0001.mp4)

``label`` is the multimodal sentiment in [-1, 1] (mean of the raters), ``label_T/A/V`` the
same rated from the text, audio or video alone; ``annotation`` the class
(Negative / Neutral / Positive). The root may be ``ch-simsv2s/`` or a folder holding it;
``meta(s).csv`` (the name of the Google Drive copy) is accepted too.

Rows: id ``video_0001_0001``; ``dialogue`` = ``video_id`` (the source video); ``turn`` =
clip id; ``split`` = mode (``valid`` → ``dev``); ``text`` (Chinese transcript); ``audio``
= ``video`` = the clip (the speech is inside the mp4); ``sentiment`` = ``label``;
``label`` = the annotation lower-cased; ``label_text/audio/video`` = the sign class of
``label_T/A/V`` (< 0 negative, 0 neutral, > 0 positive); ``meta`` = the three per-modality
scores. Views: ``three`` (negative/neutral/positive), ``binary`` (neutral dropped),
``sentiment`` (regression on ``sentiment``, MAE/Pearson as in the paper).

Protocol: the official split. The release names no speakers, so speaker independence
cannot be checked. The unsupervised part (``ch-simsv2u``, no labels) is not read.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, line_problem, not_root, read_text
from .base import Corpus, is_hidden, register

REQUIRED = ("video_id", "clip_id", "text", "label", "label_T", "label_A", "label_V", "annotation", "mode")
MODES = {"train": "train", "valid": "dev", "test": "test"}
CLASSES = ("negative", "neutral", "positive")


def sign_class(v: float) -> str:
    return "negative" if v < 0 else "positive" if v > 0 else "neutral"


@register
class CHSIMS2(Corpus):
    name = "chsims2"
    title = "CH-SIMS v2.0"
    description = ("Chinese multimodal sentiment: 4402 clips with multimodal and per-modality sentiment "
                   "in [-1, 1], official train/valid/test (audio, video, text).")
    modalities = ("audio", "video", "text")
    language = "zh"
    licence = "non-commercial research only (CH-SIMS v2.0 authors' terms)"
    #: sentiment polarity, not emotion categories: nothing maps onto the emotion vocabulary
    canonical = {"negative": None, "neutral": None, "positive": None}
    default_protocol = {"kind": "official", "speaker_independent": False}
    #: CH-SIMS (2281 clips) + the 2121 clips v2.0 adds (paper abstract, arXiv 2209.02604) = 4402; the
    #: per-split sizes we found quoted (2722 / 647 / 1034) sum to 4403, so none is asserted
    expected = {"total": 4402}
    layout_hint = ("ch-simsv2s/meta.csv (video_id, clip_id, text, label, label_T, label_A, label_V, "
                   "annotation, mode) and ch-simsv2s/Raw/<video_id>/<clip_id>.mp4")
    labelset = LabelSet(CLASSES, {
        "three": LabelView.identity("three", CLASSES, "negative / neutral / positive (release annotation)"),
        "binary": LabelView.identity("binary", ("negative", "positive"), "neutral dropped", drop=("neutral",)),
        "sentiment": LabelView.regression("sentiment", ("sentiment",), "multimodal sentiment in [-1, 1]"),
    }, default_view="three")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = next((b for b in (root, find_dir(root, "ch-simsv2s", "ch-sims-v2", "CH-SIMS-v2"))
                     if b is not None and _meta(b)), None)
        if base is None:
            raise not_root(root, self.title, "no meta.csv", self.layout_hint)
        raw = base / "Raw"
        if not raw.is_dir():
            raise not_root(root, self.title, f"no Raw/ folder of clips beside {_meta(base).name}", self.layout_hint)
        have = {v: set(n for n in os.listdir(raw / v) if not is_hidden(n))
                for v in os.listdir(raw) if not is_hidden(v) and (raw / v).is_dir()}
        rows, missing = [], []
        for lineno, r in _records(_meta(base), issues):
            fn = f"{r['clip']}.mp4"
            clip = str(raw / r["video_id"] / fn) if fn in have.get(r["video_id"], ()) else None
            if clip is None:
                missing.append(raw / r["video_id"] / fn)
                issues.add(raw / r["video_id"] / fn, f"clip missing; {r['id']} kept without audio/video")
            rows.append({k: v for k, v in r.items() if k not in ("video_id", "clip")} | {"audio": clip, "video": clip})
        if missing and on_error == "raise":
            raise CorpusError(f"{len(missing)} CH-SIMS v2 clip(s) named in meta.csv are missing, e.g. {missing[0]}. "
                              "Set on_error='skip' to keep them without audio/video (their text is still used).")
        if not rows:
            raise not_root(root, self.title, f"{_meta(base)} lists no clip", self.layout_hint)
        return normalize(rows, self.name)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = ["official split; no speaker ids, so speaker independence cannot be checked"]
        n = int(df["video"].isna().sum())
        if n:
            out.append(f"{n} of {len(df)} clips are missing (text only)")
        return out


def _meta(base: Path) -> Path | None:
    return next((base / n for n in ("meta.csv", "meta(s).csv", "label.csv") if (base / n).is_file()), None)


def _records(path: Path, issues):
    rd = csv.DictReader(io.StringIO(read_text(path)))
    absent = [c for c in REQUIRED if c not in (rd.fieldnames or [])]
    if absent:
        raise CorpusError(f"{path}:1: header lacks {absent}; expected {', '.join(REQUIRED)}")
    for r in rd:
        try:
            yield rd.line_num, _row(r)
        except ValueError as e:
            line_problem(issues, path, rd.line_num, f"malformed row ({e})")


def _row(r: dict) -> dict:
    vals = {}
    for c in ("label", "label_T", "label_A", "label_V"):
        v = float(r[c])
        if not (math.isfinite(v) and -1.0 <= v <= 1.0):
            raise ValueError(f"{c} = {r[c]!r} is outside [-1, 1]")
        vals[c] = v
    mode, ann = r["mode"].strip().lower(), r["annotation"].strip().lower()
    if mode not in MODES:
        raise ValueError(f"mode {r['mode']!r} is not one of train, valid, test")
    if ann not in CLASSES:
        raise ValueError(f"annotation {r['annotation']!r} is not Negative, Neutral or Positive")
    vid, clip = r["video_id"].strip(), r["clip_id"].strip()
    if not vid or not clip.isdigit():
        raise ValueError(f"video_id {vid!r} / clip_id {clip!r}")
    clip = clip.zfill(4)
    return {"id": f"{vid}_{clip}", "video_id": vid, "clip": clip, "dialogue": vid, "turn": int(clip),
            "split": MODES[mode], "text": r["text"], "language": "zh", "label": ann,
            "sentiment": vals["label"], "label_text": sign_class(vals["label_T"]),
            "label_audio": sign_class(vals["label_A"]), "label_video": sign_class(vals["label_V"]),
            "meta": json.dumps({"label_T": vals["label_T"], "label_A": vals["label_A"], "label_V": vals["label_V"]})}
