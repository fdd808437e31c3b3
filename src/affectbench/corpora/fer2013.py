"""FER2013 (ICML 2013 facial expression challenge), read from ``fer2013.csv`` as Kaggle ships it.

``fer2013.csv`` (in the root or ``fer2013/``): ``emotion,pixels,Usage`` with one row
per face, ``pixels`` = 2304 space-separated grey values (48 × 48, row-major),
``emotion`` 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral,
``Usage`` Training / PublicTest / PrivateTest. The later Kaggle file
``icml_face_data.csv`` (``emotion, Usage, pixels`` with spaces after the commas)
is read the same way.

**Pixels are decoded to PNG files on prepare**, once: every image extractor reads
``image`` paths, and a 48 × 48 PNG costs ~100 µs to write. They go to
``$AFFECTBENCH_HOME/fer2013/<hash of the CSV>/<Usage>/<row>.png`` (written to a
temporary name and renamed, so a killed prepare leaves no half image); a later
prepare of the same CSV finds them and writes nothing. The CSV is
streamed row by row, so memory stays flat.

Rows: id ``fer2013_00000`` (the row's position in the file, the only stable key);
split = train / dev / test (PublicTest is the usual validation set, PrivateTest
the test set). There are no subject ids: the official split cannot be checked for
identity overlap, and the default protocol says it is not speaker-independent.
"""
from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, register

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGE = {"Training": "train", "PublicTest": "dev", "PrivateTest": "test"}
FILES = ("fer2013.csv", "fer2013/fer2013.csv", "icml_face_data.csv")
SIDE = 48


def csv_key(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def decode_pixels(text: str) -> np.ndarray:
    """2304 grey values -> (48, 48) uint8; ValueError says what is wrong."""
    try:
        px = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise ValueError("pixels holds something other than whole numbers") from None
    if px.size != SIDE * SIDE:
        raise ValueError(f"pixels has {px.size} values, a 48x48 face has {SIDE * SIDE}")
    if px.min() < 0 or px.max() > 255:
        raise ValueError("pixel values outside 0–255")
    return px.astype(np.uint8).reshape(SIDE, SIDE)


@register
class FER2013(Corpus):
    name = "fer2013"
    title = "FER2013"
    description = "FER2013: 35 887 web faces (48x48 grey), 7 expressions, official train/public/private split (image)."
    modalities = ("image",)
    language = ""
    licence = "Kaggle competition data, research use (faces collected from the web; no explicit licence)"
    canonical = {c: c for c in EMOTIONS}
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 35887, "split": {"train": 28709, "dev": 3589, "test": 3589},
                "label": {"angry": 4953, "disgust": 547, "fear": 5121, "happy": 8989, "sad": 6077,
                          "surprise": 4002, "neutral": 6198}}
    layout_hint = "fer2013.csv (columns emotion,pixels,Usage; 35887 rows) in the root or fer2013/"
    labelset = LabelSet(EMOTIONS, {
        "all": LabelView.identity("all", EMOTIONS, "the 7 FER2013 expressions"),
        "six": LabelView.identity("six", tuple(e for e in EMOTIONS if e != "disgust"),
                                  "disgust dropped (547 faces)", drop=("disgust",)),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        path = next((root / f for f in FILES if (root / f).is_file()), None)
        if path is None:
            raise CorpusError(f"{root}: not a FER2013 root: no {' / '.join(FILES)}. Expected {self.layout_hint}")
        from ..paths import home

        rows = list(self._rows(path, home() / "fer2013" / csv_key(path), issues))
        if not rows:
            raise CorpusError(f"{path}: no rows. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    def _rows(self, path: Path, out: Path, issues):
        from PIL import Image

        with open(path, encoding="utf-8-sig", newline="") as fh:
            rd = csv.reader(fh)
            header = [h.strip() for h in next(rd, [])]
            if not {"emotion", "pixels", "Usage"} <= set(header):
                raise CorpusError(f"{path}:1: header {header} lacks emotion, pixels, Usage")
            col = {c: header.index(c) for c in ("emotion", "pixels", "Usage")}
            for d in USAGE:
                (out / d).mkdir(parents=True, exist_ok=True)
            for i, rec in enumerate(rd):
                where = f"{path}:{rd.line_num}"
                try:
                    if len(rec) < len(header):
                        raise ValueError(f"{len(rec)} fields, the header has {len(header)}")
                    emo, usage = rec[col["emotion"]].strip(), rec[col["Usage"]].strip()
                    if emo not in {str(k) for k in range(7)}:
                        raise ValueError(f"emotion '{emo}' is not 0–6")
                    if usage not in USAGE:
                        raise ValueError(f"Usage '{usage}' is not one of {', '.join(USAGE)}")
                    img = out / usage / f"{i:05d}.png"
                    if not img.is_file():  # decoded by an earlier prepare of the same CSV
                        px = decode_pixels(rec[col["pixels"]])
                        tmp = img.with_suffix(".tmp")
                        Image.fromarray(px, "L").save(tmp, format="PNG", compress_level=1)
                        os.replace(tmp, img)
                except ValueError as e:
                    issues.problem(where, f"malformed row: {e}", f"{where}: malformed row ({e}){SKIP_HINT}")
                    continue
                yield {"id": f"fer2013_{i:05d}", "split": USAGE[usage], "image": str(img),
                       "label": EMOTIONS[int(emo)]}

    def caveats(self, df):
        return ["no subject ids: the official split cannot be checked for the same face in train and test; "
                "FER2013 is known to hold near-duplicate and mislabelled faces (see FER+)"]
