"""EmoGator (Buhl, 2023): 32 130 vocal bursts (laughs, sighs, screams …) in 30 categories.

The repository (github.com/fredbuhl/EmoGator) keeps every burst in ``data/mp3/`` named
``NNNNNN-EE-I.mp3``: contributor (000001–000357), category (01–30, the order below),
instance (1–3). 357 contributors × 30 categories × 3 instances = 32 130, 90 per contributor,
1071 per category. The root may be the clone, ``data/`` or ``data/mp3/`` itself.

Rows: id = file stem; ``speaker`` = contributor; ``audio`` the mp3 (libsndfile reads MP3);
``label`` = category in snake case (``surprise_negative``); no text (non-speech).

Protocol: EmoGator has no official split. Five speaker-disjoint folds are built by rule:
contributor *n* goes to ``fold((n - 1) mod 5 + 1)`` (``session``; 71–72 contributors per
fold); the default protocol leaves one fold out.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import fold_name, not_root, shared_view
from .base import Corpus, is_hidden, register

CATEGORIES = ("adoration", "amusement", "anger", "awe", "confusion", "contempt", "contentment", "desire",
              "disappointment", "disgust", "distress", "ecstasy", "elation", "embarrassment", "fear",
              "guilt", "interest", "neutral", "pain", "pride", "realization", "relief", "romantic_love",
              "sadness", "serenity", "shame", "surprise_negative", "surprise_positive", "sympathy",
              "triumph")
NAME = re.compile(r"^(\d{6})-(\d{2})-([123])\.mp3$", re.IGNORECASE)
#: only the categories with a clear counterpart in the shared vocabulary are mapped
CANONICAL = {c: None for c in CATEGORIES} | {
    "anger": "angry", "contempt": "contempt", "disgust": "disgust", "fear": "fear", "neutral": "neutral",
    "sadness": "sad", "surprise_negative": "surprise", "surprise_positive": "surprise",
    "amusement": "happy", "elation": "happy", "ecstasy": "excited", "serenity": "calm"}
FOLDS = 5
CONTRIBUTORS = 357


@register
class EmoGator(Corpus):
    name = "emogator"
    title = "EmoGator"
    description = "32 130 non-speech vocal bursts from 357 contributors, 30 categories (audio)."
    modalities = ("audio",)
    language = ""
    licence = "research use (EmoGator repository; no licence file, terms unverified)"
    canonical = CANONICAL
    default_protocol = {"kind": "logo", "group": "session"}
    expected = {"total": CONTRIBUTORS * 90, "label": {c: CONTRIBUTORS * 3 for c in CATEGORIES}}
    layout_hint = "data/mp3/NNNNNN-EE-I.mp3 (contributor-category-instance), as in the EmoGator repository"
    labelset = LabelSet(CATEGORIES, {
        "all": LabelView.identity("all", CATEGORIES, "the 30 EmoGator categories"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        d = next((p for p in (root / "data" / "mp3", root / "mp3", root) if p.is_dir()
                  and any(NAME.match(n) for n in _head(p))), None)
        if d is None:
            raise not_root(root, self.title, "no data/mp3/ folder of NNNNNN-EE-I.mp3 files", self.layout_hint)
        rows, bad = [], []
        for n in sorted(os.listdir(d)):
            if is_hidden(n) or not n.lower().endswith(".mp3"):
                continue
            m = NAME.match(n)
            if not m or not 1 <= int(m.group(2)) <= 30:
                bad.append((d / n, "not NNNNNN-EE-I.mp3 with category 01-30 and instance 1-3"))
                continue
            spk = m.group(1)
            rows.append({"id": Path(n).stem, "speaker": spk, "session": fold_name(int(spk), FOLDS),
                         "audio": str(d / n), "label": CATEGORIES[int(m.group(2)) - 1]})
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise not_root(root, self.title, f"{d} holds no EmoGator mp3", self.layout_hint)
        return normalize(rows, self.name)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        return [f"speaker-disjoint folds built by rule (contributor mod {FOLDS}); EmoGator has no official split",
                "crowd-sourced recordings at the contributors' own sample rates and microphones"]


def _head(d: Path, k: int = 500) -> list[str]:
    out = []
    with os.scandir(d) as it:
        for e in it:
            out.append(e.name)
            if len(out) >= k:
                break
    return out
