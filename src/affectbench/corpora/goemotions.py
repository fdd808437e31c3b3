"""GoEmotions (Reddit comments, 27 emotions + neutral, multi-label), official split.

``{train,dev,test}.tsv``: text, comma-separated label ids, comment id;
``emotions.txt``: one name per line, id = line number. Views: ``all`` (28-way
multi-label) and ``ekman`` (the paper's 6 Ekman groups + neutral, multi-label).
"""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import Corpus, register

EKMAN = {
    "anger": ("anger", "annoyance", "disapproval"),
    "disgust": ("disgust",),
    "fear": ("fear", "nervousness"),
    "joy": ("joy", "amusement", "approval", "excitement", "gratitude", "love", "optimism",
            "relief", "pride", "admiration", "desire", "caring"),
    "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
    "surprise": ("surprise", "realization", "confusion", "curiosity"),
    "neutral": ("neutral",),
}
GROUP_NAMES = {"anger": "angry", "disgust": "disgust", "fear": "fear", "joy": "happy",
               "sadness": "sad", "surprise": "surprise", "neutral": "neutral"}
SPLITS = {"train": 43410, "dev": 5426, "test": 5427}


def _names(root: Path) -> list[str]:
    p = root / "emotions.txt"
    if not p.is_file():
        raise CorpusError(f"{root}: not a GoEmotions root: no emotions.txt. Expected "
                          f"{GoEmotions.layout_hint}")
    return [line.strip() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


@register
class GoEmotions(Corpus):
    name = "goemotions"
    title = "GoEmotions"
    description = "Reddit comments, 27 emotions + neutral, multi-label, official train/dev/test (text)."
    modalities = ("text",)
    language = "en"
    default_protocol = {"kind": "official"}
    expected = {"total": 54263, "split": SPLITS}
    layout_hint = "train.tsv, dev.tsv, test.tsv (text<TAB>label ids<TAB>comment id) and emotions.txt"
    # Label names are fixed by the release; emotions.txt is checked against them.
    NAMES = ("admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion",
             "curiosity", "desire", "disappointment", "disapproval", "disgust", "embarrassment",
             "excitement", "fear", "gratitude", "grief", "joy", "love", "nervousness", "optimism",
             "pride", "realization", "relief", "remorse", "sadness", "surprise", "neutral")
    licence = "Apache-2.0"
    # the authors' Ekman grouping (Demszky et al. 2020, ekman_mapping.json), in shared names
    canonical = {src: GROUP_NAMES[grp] for grp, srcs in EKMAN.items() for src in srcs}
    labelset = LabelSet(NAMES, {
        "all": LabelView.identity("all", NAMES, "28 labels, multi-label", multilabel=True),
        "ekman": LabelView("ekman", tuple(EKMAN),
                           {src: grp for grp, srcs in EKMAN.items() for src in srcs},
                           multilabel=True, description="Ekman 6 + neutral, multi-label"),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        names = _names(root)
        if tuple(names) != self.NAMES:
            raise CorpusError(f"{root / 'emotions.txt'}: expected the 28 GoEmotions labels "
                              f"(admiration … neutral), found {len(names)} different ones")
        rows = []
        for split in SPLITS:
            path = root / f"{split}.tsv"
            if not path.is_file():
                raise CorpusError(f"{path}: missing. Expected {self.layout_hint}")
            with open(path, encoding="utf-8", newline="") as f:
                for lineno, rec in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                    try:
                        text, ids, cid = rec
                        labels = [names[int(i)] for i in ids.split(",")]
                    except (ValueError, IndexError) as e:
                        issues.problem(f"{path}:{lineno}", "malformed line",
                                       f"{path}:{lineno}: malformed line ({e}): {rec!r:.80}")
                        continue
                    rows.append({"id": cid, "split": split, "text": text, "labels": labels,
                                 "language": "en", "label": labels[0] if len(labels) == 1 else None})
        return normalize(rows, self.name)
