"""RAF-DB (Real-world Affective Faces Database), basic-emotion subset, native layout.

The release unpacks to ``basic/`` (the root may be ``basic/`` itself or a folder holding it)::

    basic/EmoLabel/list_patition_label.txt      "train_00001.jpg 5" per line (the release's spelling)
    basic/Image/aligned/train_00001_aligned.jpg  100×100 aligned faces
    basic/Image/original/train_00001.jpg         the web images

Codes: 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral. The
split is in the name (``train_`` / ``test_``): 12 271 / 3068.

Decisions:

- ``image`` = the aligned face (``RAFDB(aligned=False)``: the original image); a label line
  whose image is missing is a problem (raise, or skip and list it).
- Manifest labels are the release's names, lower-cased (``happiness``, ``anger``);
  :attr:`RAFDB.canonical` maps them to the shared vocabulary.
- Protocol: the official split. It has no validation part and the images carry no
  subject ids, so validation is carved from training by a fixed rule: every training image
  whose number is a multiple of 10 (``train_00010``, ``train_00020`` …, 1227 images) is
  ``dev``. RAF-DB images are independent web photos, so the carve does not split clips;
  the same person may still appear in train and test (no ids exist to check).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, line_problem, not_root, read_text, shared_view
from .base import Corpus, register

CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger", 7: "neutral"}
CLASSES = tuple(CODES.values())
LINE = re.compile(r"^((train)_(\d{5})|(test)_(\d{4}))\.jpg\s+(\d+)$")
TRAIN = {"surprise": 1290, "fear": 281, "disgust": 717, "happiness": 4772, "sadness": 1982,
         "anger": 705, "neutral": 2524}
TEST = {"surprise": 329, "fear": 74, "disgust": 160, "happiness": 1185, "sadness": 478,
        "anger": 162, "neutral": 680}
CANONICAL = {"surprise": "surprise", "fear": "fear", "disgust": "disgust", "happiness": "happy",
             "sadness": "sad", "anger": "angry", "neutral": "neutral"}


@register
class RAFDB(Corpus):
    name = "rafdb"
    title = "RAF-DB"
    description = ("Real-world Affective Faces Database, basic subset: 15 339 web face images, "
                   "7 classes, official train/test (image).")
    modalities = ("image",)
    language = ""
    licence = "non-commercial research only (RAF-DB licence agreement)"
    canonical = CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 15339, "split": {"train": 12271 - 1227, "dev": 1227, "test": 3068},
                "label": {c: TRAIN[c] + TEST[c] for c in CLASSES}}
    unverified = frozenset({"label"})
    layout_hint = ("basic/EmoLabel/list_patition_label.txt (\"train_00001.jpg 5\" per line) and "
                   "basic/Image/aligned/train_00001_aligned.jpg (or basic/Image/original/)")
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 RAF-DB basic emotions"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def __init__(self, aligned: bool = True):
        self.aligned = aligned

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = root if (root / "EmoLabel").is_dir() else find_dir(root, "basic")
        if base is None or not (base / "EmoLabel" / "list_patition_label.txt").is_file():
            raise not_root(root, self.title, "no basic/EmoLabel/list_patition_label.txt", self.layout_hint)
        sub = "aligned" if self.aligned else "original"
        images = base / "Image" / sub
        if not images.is_dir():
            raise not_root(root, self.title, f"no {base.name}/Image/{sub}/ folder", self.layout_hint)
        have = set(os.listdir(images))
        path = base / "EmoLabel" / "list_patition_label.txt"
        rows = []
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            if not line.strip():
                continue
            m = LINE.match(line.strip())
            if not m or int(m.group(6)) not in CODES:
                line_problem(issues, path, lineno, f"not 'train_NNNNN.jpg <1-7>' or 'test_NNNN.jpg <1-7>': {line.strip()!r:.60}")
                continue
            stem, split, code = m.group(1), m.group(2) or m.group(4), int(m.group(6))
            num = int(m.group(3) or m.group(5))
            fn = f"{stem}_aligned.jpg" if self.aligned else f"{stem}.jpg"
            if fn not in have:
                issues.problem(images / fn, f"missing: the image of {path.name}:{lineno}")
                continue
            if split == "train" and num % 10 == 0:
                split = "dev"
            rows.append({"id": stem, "split": split, "image": str(images / fn), "label": CODES[code]})
        if not rows:
            raise not_root(root, self.title, f"{path} lists no image", self.layout_hint)
        return normalize(rows, self.name)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        return ["validation = training images numbered ×10 (carved, not official); no subject ids, "
                "so subject independence of train/test is unknown"]
