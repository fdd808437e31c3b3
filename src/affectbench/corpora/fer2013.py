"""FER2013 (ICML 2013 facial expression challenge), read from ``fer2013.csv`` as Kaggle ships it.

``fer2013.csv`` (in the root or ``fer2013/``): ``emotion,pixels,Usage`` with one row
per face, ``pixels`` = 2304 space-separated grey values (48 × 48, row-major),
``emotion`` 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral,
``Usage`` Training / PublicTest / PrivateTest. The later Kaggle file
``icml_face_data.csv`` (``emotion, Usage, pixels`` with spaces after the commas)
is read the same way.

**Pixels are decoded to PNG files on prepare**, once: every image extractor reads
``image`` paths, and a 48 × 48 PNG costs ~100 µs to write. They go to
``$AFFECTBENCH_HOME/fer2013/<hash of the CSV>/<Usage>/<row>.png`` (written into a
``.partial`` folder renamed at the end, so a killed prepare leaves no half cache) with
``rows.json`` (rows and malformed-row problems); a later prepare of the same CSV reads
``rows.json`` and writes nothing. The CSV is
streamed row by row, so memory stays flat.

Rows: id ``fer2013_00000`` (the row's position in the file, the only stable key);
split = train / dev / test (PublicTest is the usual validation set, PrivateTest
the test set). There are no subject ids: the official split cannot be checked for
identity overlap, and the default protocol says it is not speaker-independent.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
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
#: the emotion column's valid codes, 0-6 (EMOTIONS in order)
CODES = frozenset(str(k) for k in range(len(EMOTIONS)))


def csv_key(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def decode_pixels(text: str) -> np.ndarray:
    """2304 grey values -> (48, 48) uint8; ValueError says what is wrong.

    ``np.fromstring`` in text mode parses in C (4x faster than split + array); it stops at the
    first token that is not a number, which then shows as a short row."""
    px = np.fromstring(text, dtype=np.int64, sep=" ")
    if px.size != SIDE * SIDE:
        raise ValueError(f"pixels has {px.size} values before anything that is not a whole number, "
                         f"a 48x48 face has {SIDE * SIDE}")
    if px.min() < 0 or px.max() > 255:
        raise ValueError("pixel values outside 0–255")
    return px.astype(np.uint8).reshape(SIDE, SIDE)


def _write_png(px: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(px, "L").save(path, format="PNG", compress_level=1)


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

        out = home() / "fer2013" / csv_key(path)
        if (out / "rows.json").is_file():  # decoded by an earlier prepare of this very CSV
            cached = json.loads((out / "rows.json").read_text(encoding="utf-8"))
            for where, msg in cached["problems"]:
                issues.problem(where, "malformed row", msg)
            rows = [{"id": f"fer2013_{i:05d}", "split": USAGE[u], "image": str(out / u / f"{i:05d}.png"),
                     "label": EMOTIONS[e]} for i, u, e in cached["rows"]]
        else:
            rows = self._decode(path, out, issues)
        if not rows:
            raise CorpusError(f"{path}: no rows. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    def _decode(self, path: Path, out: Path, issues) -> list[dict]:
        """Write every face as a PNG into ``<out>.partial`` (threads: the cost is file creation, which
        releases the GIL), then rename the folder: a killed prepare leaves no half-written cache."""
        from concurrent.futures import ThreadPoolExecutor

        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        for d in USAGE:
            (partial / d).mkdir(parents=True)
        rows, kept, problems, pending = [], [], [], []
        with ThreadPoolExecutor(max_workers=4) as pool:
            for i, where, rec in self._records(path):
                try:
                    emo, usage, px = self._parse(rec)
                except ValueError as e:
                    problems.append((where, f"{where}: malformed row ({e}){SKIP_HINT}"))
                    issues.problem(where, f"malformed row: {e}", problems[-1][1])
                    continue
                pending.append(pool.submit(_write_png, px, partial / usage / f"{i:05d}.png"))
                if len(pending) > 512:  # bounded: memory stays flat however long the CSV is
                    pending.pop(0).result()
                kept.append((i, usage, emo))
                rows.append({"id": f"fer2013_{i:05d}", "split": USAGE[usage],
                             "image": str(out / usage / f"{i:05d}.png"), "label": EMOTIONS[emo]})
            for f in pending:
                f.result()
        (partial / "rows.json").write_text(json.dumps({"rows": kept, "problems": problems}), encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(partial, out)
        return rows

    @staticmethod
    def _records(path: Path):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rd = csv.reader(fh)
            header = [h.strip() for h in next(rd, [])]
            if not {"emotion", "pixels", "Usage"} <= set(header):
                raise CorpusError(f"{path}:1: header {header} lacks emotion, pixels, Usage")
            col = [header.index(c) for c in ("emotion", "Usage", "pixels")]
            for i, rec in enumerate(rd):
                where = f"{path}:{rd.line_num}"
                if len(rec) < len(header):
                    yield i, where, None
                else:
                    yield i, where, [rec[c] for c in col]

    @staticmethod
    def _parse(rec) -> tuple[int, str, np.ndarray]:
        if rec is None:
            raise ValueError("fewer fields than the header")
        emo, usage, pixels = rec[0].strip(), rec[1].strip(), rec[2]
        if emo not in CODES:
            raise ValueError(f"emotion '{emo}' is not 0–6")
        if usage not in USAGE:
            raise ValueError(f"Usage '{usage}' is not one of {', '.join(USAGE)}")
        return int(emo), usage, decode_pixels(pixels)

    def caveats(self, df):
        return ["no subject ids: the official split cannot be checked for the same face in train and test; "
                "FER2013 is known to hold near-duplicate and mislabelled faces (see FER+)"]
