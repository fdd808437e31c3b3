"""SemEval-2018 Task 1 "Affect in Tweets" (Mohammad et al. 2018), English, two sub-tasks.

The organisers' ``SemEval2018-Task1-all-data.zip`` extracts to
``SemEval2018-Task1-all-data/English/{E-c,V-reg,…}/``; the files are found anywhere up to
three levels below the root, by their release names:

- **E-c** (``semeval2018_ec``, multi-label classification, 11 emotions):
  ``2018-E-c-En-{train,dev,test-gold}.txt``, tab-separated, header
  ``ID  Tweet  anger anticipation disgust fear joy love optimism pessimism sadness surprise trust``,
  0/1 per emotion. A tweet with no emotion (all 0) is "neutral or no emotion" in the task;
  it gets the label ``no_emotion`` so that it is kept and counted.
- **V-reg** (``semeval2018_vreg``, valence regression): ``2018-Valence-reg-En-{train,dev,test-gold}.txt``,
  header ``ID  Tweet  Affect Dimension  Intensity Score``; the score (0–1) goes to ``valence``.

Rows: id = the tweet ID (``2018-En-00001``), ``split`` train/dev/test, ``text`` the tweet.
Protocol: the official split (authors are not identified). The test files are the
``test-gold`` ones; a test file without labels is refused by name.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_file, line_problem, not_root, read_text, shared_view
from .base import Corpus, register

EC_EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "love", "optimism", "pessimism",
               "sadness", "surprise", "trust")
EC_CANONICAL = {"anger": "angry", "anticipation": None, "disgust": "disgust", "fear": "fear",
                "joy": "happy", "love": None, "optimism": None, "pessimism": None, "sadness": "sad",
                "surprise": "surprise", "trust": None, "no_emotion": "neutral"}
SPLIT_FILES = {"train": "train", "dev": "dev", "test": "test-gold"}


def _files(root: Path, pattern: str, title: str, hint: str) -> dict[str, Path]:
    found = {s: find_file(root, pattern.format(f)) for s, f in SPLIT_FILES.items()}
    found = {s: p for s, p in found.items() if p is not None}
    if not found:
        names = ", ".join(pattern.format(f) for f in SPLIT_FILES.values())
        raise not_root(root, title, f"none of {names} here or up to 3 levels below", hint)
    return found


def _records(path: Path, header: tuple[str, ...], issues):
    """(line number, fields) of a TSV whose header must start with ``header``."""
    rd = csv.reader(io.StringIO(read_text(path)), delimiter="\t", quoting=csv.QUOTE_NONE)
    head = [h.strip() for h in next(rd, [])]
    if tuple(head[:len(header)]) != header:
        from ..errors import CorpusError

        raise CorpusError(f"{path}:1: header {head[:len(header)]} is not {list(header)}")
    for rec in rd:
        if any(f.strip() for f in rec):
            if len(rec) != len(head):
                line_problem(issues, path, rd.line_num, f"{len(rec)} fields, the header has {len(head)}")
                continue
            yield rd.line_num, rec


@register
class SemEval2018EC(Corpus):
    name = "semeval2018_ec"
    title = "SemEval-2018 Task 1 E-c"
    description = ("English tweets, 11 emotions, multi-label (SemEval-2018 Task 1 E-c), official "
                   "train/dev/test (text).")
    modalities = ("text",)
    language = "en"
    licence = "research use (SemEval-2018 Task 1 terms; tweets under X/Twitter terms)"
    canonical = EC_CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 10983, "split": {"train": 6838, "dev": 886, "test": 3259}}
    unverified = frozenset({"total", "split"})
    layout_hint = ("2018-E-c-En-train.txt, 2018-E-c-En-dev.txt, 2018-E-c-En-test-gold.txt (tab-separated: "
                   "ID, Tweet, 11 emotion columns of 0/1), e.g. in SemEval2018-Task1-all-data/English/E-c/")
    labelset = LabelSet(EC_EMOTIONS + ("no_emotion",), {
        "all": LabelView.identity("all", EC_EMOTIONS, "the 11 E-c emotions, multi-label",
                                  multilabel=True, drop=("no_emotion",)),
        "shared": shared_view(EC_CANONICAL, multilabel=True),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        rows = []
        for split, path in _files(root, "2018-E-c-En-{}.txt", self.title, self.layout_hint).items():
            for lineno, rec in _records(path, ("ID", "Tweet") + EC_EMOTIONS, issues):
                flags = rec[2:2 + len(EC_EMOTIONS)]
                if any(f.strip() not in ("0", "1") for f in flags):
                    line_problem(issues, path, lineno, f"emotion columns must be 0 or 1, found "
                                 f"{[f for f in flags if f.strip() not in ('0', '1')][:3]}")
                    continue
                labels = [e for e, f in zip(EC_EMOTIONS, flags) if f.strip() == "1"] or ["no_emotion"]
                rows.append({"id": rec[0].strip(), "split": split, "text": rec[1], "language": "en",
                             "labels": labels, "label": labels[0] if len(labels) == 1 else None})
        if not rows:
            raise not_root(root, self.title, "the E-c files hold no tweet", self.layout_hint)
        return normalize(rows, self.name)


@register
class SemEval2018VReg(Corpus):
    name = "semeval2018_vreg"
    title = "SemEval-2018 Task 1 V-reg"
    description = "English tweets, valence intensity 0–1 (SemEval-2018 Task 1 V-reg), official split (text)."
    modalities = ("text",)
    language = "en"
    task = "regression"
    targets = ("valence",)
    licence = "research use (SemEval-2018 Task 1 terms; tweets under X/Twitter terms)"
    canonical: dict = {}
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 2567, "split": {"train": 1181, "dev": 449, "test": 937}}
    unverified = frozenset({"total", "split"})
    layout_hint = ("2018-Valence-reg-En-train.txt, 2018-Valence-reg-En-dev.txt, "
                   "2018-Valence-reg-En-test-gold.txt (tab-separated: ID, Tweet, Affect Dimension, "
                   "Intensity Score), e.g. in SemEval2018-Task1-all-data/English/V-reg/")
    labelset = LabelSet((), {"valence": LabelView.regression("valence", ("valence",), "valence intensity (0–1)")},
                        default_view="valence")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        rows = []
        head = ("ID", "Tweet", "Affect Dimension", "Intensity Score")
        for split, path in _files(root, "2018-Valence-reg-En-{}.txt", self.title, self.layout_hint).items():
            for lineno, rec in _records(path, head, issues):
                try:
                    v = float(rec[3])
                except ValueError:
                    v = math.nan
                if not (0.0 <= v <= 1.0) or rec[2].strip().lower() != "valence":
                    line_problem(issues, path, lineno, f"expected dimension 'valence' and a score in 0–1, "
                                 f"found {rec[2]!r} {rec[3]!r}")
                    continue
                rows.append({"id": rec[0].strip(), "split": split, "text": rec[1], "language": "en",
                             "valence": v})
        if not rows:
            raise not_root(root, self.title, "the V-reg files hold no tweet", self.layout_hint)
        return normalize(rows, self.name)
