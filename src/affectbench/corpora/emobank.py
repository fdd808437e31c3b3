"""EmoBank (10,062 English sentences rated for valence, arousal, dominance), native layout.

``corpus/emobank.csv`` from github.com/JULIELab/EmoBank: ``id, split, V, A, D, text``,
one row per sentence, V/A/D the mean reader+writer ratings on a 1–5 scale,
``split`` the official stratified train/dev/test (8062 / 1000 / 1000, made by the
authors' ``corpus/adding_data_split.ipynb``). The root may be the repository
clone (``corpus/emobank.csv``) or the ``corpus`` folder itself.

EmoBank is a **regression** corpus: ``valence`` / ``arousal`` / ``dominance``
carry the targets (1–5) and ``label`` is null. Views are regression views
(``LabelView.regression``): ``vad`` (default, all three), ``valence``,
``arousal``, ``dominance``; report Pearson r and CCC per dimension. Should the
label module lack regression views, the label set refuses any view with a
message that says why. There are no speakers (authors are not identified): the
protocol is the official split.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import CorpusError, LabelError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, register

COLUMNS = ("id", "split", "V", "A", "D", "text")
SPLITS = {"train": 8062, "dev": 1000, "test": 1000}
TARGETS = {"V": "valence", "A": "arousal", "D": "dominance"}


@dataclass(frozen=True)
class RegressionLabels(LabelSet):
    """A label set for corpora whose targets are dimensions, not classes."""

    targets: tuple[str, ...] = ()
    corpus: str = ""

    def view(self, name: str | None = None):
        raise LabelError(
            f"{self.corpus} has no emotion categories: its targets are {', '.join(self.targets)} "
            "(continuous, 1–5), a regression task. Classification views (corpus.view) do not apply; "
            "it needs a regression head and CCC/Pearson metrics.")


def _labelset() -> LabelSet:
    targets = tuple(TARGETS.values())
    make = getattr(LabelView, "regression", None)
    if make is None:  # a label module without regression views: refuse views, say why
        return RegressionLabels((), {}, "vad", targets=targets, corpus="EmoBank")
    views = {"vad": make("vad", targets, "valence, arousal, dominance (1–5)")}
    views.update({t: make(t, (t,), f"{t} only (1–5)") for t in targets})
    return LabelSet((), views, default_view="vad")


@register
class EmoBank(Corpus):
    name = "emobank"
    title = "EmoBank"
    description = ("10,062 English sentences with valence/arousal/dominance (1–5), official "
                   "train/dev/test; regression (text).")
    modalities = ("text",)
    language = "en"
    task = "regression"
    targets = tuple(TARGETS.values())
    default_protocol = {"kind": "official"}
    expected = {"total": 10062, "split": SPLITS}
    unverified = frozenset({"split"})
    layout_hint = "corpus/emobank.csv (columns id, split, V, A, D, text), as in the EmoBank repository"
    licence = "CC BY-SA 4.0"
    canonical = {}
    labelset = _labelset()

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        path = next((p for p in (root / "corpus" / "emobank.csv", root / "emobank.csv") if p.is_file()),
                    None)
        if path is None:
            raise CorpusError(f"{root}: not an EmoBank root: no corpus/emobank.csv. "
                              f"Expected {self.layout_hint}")
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or sorted(h.strip() for h in header) != sorted(COLUMNS):
                raise CorpusError(f"{path}: header {header} is not EmoBank's ({', '.join(COLUMNS)})")
            col = {h.strip(): i for i, h in enumerate(header)}
            rows = []
            for rec in reader:
                lineno = reader.line_num  # the physical line (texts may hold line breaks)
                if not rec:
                    continue
                try:
                    rows.append(self._row(rec, col))
                except ValueError as e:
                    where = f"{path}:{lineno}"
                    issues.problem(where, str(e), f"{where}: {e}: {rec!r:.100}{SKIP_HINT}")
        if not rows:
            raise CorpusError(f"{path}: no sentences. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    @staticmethod
    def _row(rec: list[str], col: dict[str, int]) -> dict:
        if len(rec) != len(col):
            raise ValueError(f"{len(rec)} fields, expected {len(col)}")
        rid = rec[col["id"]].strip()
        if not rid:
            raise ValueError("empty id")
        split = rec[col["split"]].strip()
        if split not in SPLITS:
            raise ValueError(f"split '{split}' is not one of {', '.join(SPLITS)}")
        row = {"id": rid, "split": split, "language": "en", "label": None}
        for short, long in TARGETS.items():
            v = float(rec[col[short]])  # ValueError names the bad value
            if not (math.isfinite(v) and 1.0 <= v <= 5.0):
                raise ValueError(f"{short} = {v} is outside the 1–5 scale")
            row[long] = v
        text = rec[col["text"]]
        row["text"] = text if text.strip() else None
        return row
