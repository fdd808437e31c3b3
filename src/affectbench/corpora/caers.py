"""CAER-S (Lee et al., ICCV 2019): context-aware emotion images from TV shows, native layout.

The download extracts to ``CAER-S/{train,test}/<Emotion>/<number>.png`` with the seven
emotion folders Anger, Disgust, Fear, Happy, Neutral, Sad, Surprise (the root may be
``CAER-S/`` or a folder holding it). Labels come from the folder name only.

Decisions:

- id ``train_Anger_0001`` (split, folder, file stem); ``image`` the png; manifest labels are
  the folder names lower-cased; :attr:`CAERS.canonical` maps them.
- Protocol: the official train/test split. There is no validation folder and no actor or
  clip id (images are frames of CAER clips of 79 TV shows), so validation is carved from
  training by a fixed rule: in each emotion folder of ``train``, the last 10 % of the files
  in name order are ``dev``. Files are numbered in clip order, so a contiguous block keeps
  most frames of one clip on one side; neighbouring frames at the block edge and the same
  actors across train/test remain (a caveat says so).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, not_root, shared_view, visible
from .base import Corpus, register

FOLDERS = ("Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
CLASSES = tuple(f.lower() for f in FOLDERS)
CANONICAL = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
             "neutral": "neutral", "sad": "sad", "surprise": "surprise"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEV_SHARE = 0.10


def carve_tail(names: list[str], share: float = DEV_SHARE) -> set[str]:
    """The documented carve: the last ``share`` of ``names`` in sorted order (rounded, and at
    least one name when there are two or more)."""
    k = int(round(len(names) * share))
    k = 1 if k == 0 and len(names) >= 2 else k  # a small folder still gives one
    return set(sorted(names)[len(names) - k:]) if k else set()


@register
class CAERS(Corpus):
    name = "caers"
    title = "CAER-S"
    description = ("Context-Aware Emotion Recognition, static: ~70k frames of TV-show clips with "
                   "context, 7 emotions, official train/test (image).")
    modalities = ("image",)
    language = ""
    licence = "non-commercial research only (CAER dataset terms)"
    canonical = CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    #: the only public per-split counts we found (larsylu0426/CAERS-Annotation, which leaves out
    #: images it judged invalid), hence unverified: a complete copy may hold a few more
    expected = {"total": 47966 + 20868}
    unverified = frozenset({"total"})
    layout_hint = "CAER-S/train/<Emotion>/0001.png and CAER-S/test/<Emotion>/… with folders " + ", ".join(FOLDERS)
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 CAER emotions"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = root if (root / "train").is_dir() or (root / "test").is_dir() else None
        base = base or (find_dir(root, "CAER-S", "caer-s", "CAER_S") or root)
        if not any((base / s).is_dir() for s in ("train", "test")):
            raise not_root(root, self.title, "no train/ or test/ folder", self.layout_hint)
        rows, bad = [], []
        for split in ("train", "test"):
            if not (base / split).is_dir():
                continue
            for folder in visible(base / split):
                d = base / split / folder
                if not d.is_dir():
                    continue
                files = [n for n in os.listdir(d) if n.lower().endswith(IMAGE_SUFFIXES) and not n.startswith(".")]
                if folder not in FOLDERS:
                    bad += [(d / n, f"folder '{folder}' is not a CAER emotion") for n in files[:1]]
                    continue
                dev = carve_tail(files) if split == "train" else set()
                for n in sorted(files):
                    rows.append({"id": f"{split}_{folder}_{Path(n).stem}", "image": str(d / n),
                                 "split": "dev" if n in dev else split, "label": folder.lower()})
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise not_root(root, self.title, "no images in the emotion folders", self.layout_hint)
        return normalize(rows, self.name)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        return ["validation = last 10 % of each training emotion folder (carved, not official); "
                "frames of one clip and the same actors can fall on both sides of a split"]
