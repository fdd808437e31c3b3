"""Canonical emotion names, per-corpus label sets and task views.

A corpus adapter writes canonical names into the manifest. A *view* turns those
into the classes of one task (e.g. IEMOCAP "four" merges excited into happy and
drops the rest). A label that a view neither maps nor explicitly drops is an
error, never silently discarded: that is how corpus/label mismatches surface.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import LabelError, UnknownNameError

CANONICAL = (
    "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise",
    "boredom", "calm", "frustrated", "excited", "contempt", "other",
)

#: the four classes most speech benchmarks report (IEMOCAP's convention)
FOUR = ("neutral", "happy", "sad", "angry")

SYNONYMS = {
    "neu": "neutral", "hap": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad", "ang": "angry", "anger": "angry",
    "fea": "fear", "fearful": "fear", "scared": "fear", "dis": "disgust",
    "disgusted": "disgust", "sur": "surprise", "surprised": "surprise",
    "fru": "frustrated", "frustration": "frustrated", "exc": "excited",
    "oth": "other", "bored": "boredom",
}


def canonical(name: str) -> str:
    """Map a corpus's spelling of an emotion to the canonical name (unknown names pass through)."""
    key = str(name).strip().lower()
    return SYNONYMS.get(key, key)


@dataclass(frozen=True)
class LabelView:
    """One task's classes and how the corpus's labels map onto them.

    ``mapping`` maps a manifest label to a class, or to ``None`` to drop it on
    purpose (e.g. IEMOCAP 'xxx'). Labels absent from ``mapping`` are unknown.
    """

    name: str
    classes: tuple[str, ...]
    mapping: dict[str, str | None]
    multilabel: bool = False
    description: str = ""
    #: regression views name manifest columns as targets (e.g. valence, arousal, dominance)
    targets: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return "regression" if self.targets else "multilabel" if self.multilabel else "single_label"

    @classmethod
    def regression(cls, name: str, targets, description: str = "") -> "LabelView":
        return cls(name, tuple(targets), {}, False, description, tuple(targets))

    @classmethod
    def identity(cls, name: str, classes, description: str = "", multilabel: bool = False,
                 drop=()) -> "LabelView":
        mapping = {c: c for c in classes}
        mapping.update({d: None for d in drop})
        return cls(name, tuple(classes), mapping, multilabel, description)

    @classmethod
    def four(cls, classes, description: str = "neutral/happy/sad/angry") -> "LabelView":
        """The usual four-class view of a corpus whose class names are the shared ones: every
        other class is dropped."""
        return cls.identity("four", FOUR, description, drop=tuple(c for c in classes if c not in FOUR))

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return the rows this view keeps, with the task target in column ``y``.

        Single-label: ``y`` is a class name. Multi-label: ``y`` is a list of class
        names (duplicates removed, order of ``classes``); rows whose every label is
        dropped are removed.
        """
        if self.targets:
            missing = [t for t in self.targets if t not in df.columns]
            if missing:
                raise LabelError(f"view '{self.name}': no column(s) {missing} in the manifest")
            vals = df[list(self.targets)].astype("float64")
            out = df.copy()
            out["y"] = list(vals.to_numpy())
            return out[vals.notna().all(axis=1).to_numpy()].reset_index(drop=True)
        if self.multilabel:
            ys = []
            for rid, labels in zip(df["id"], df["labels"]):
                if labels is None:
                    raise LabelError(f"utterance {rid}: no labels, view '{self.name}' is multi-label")
                mapped = set()
                for lab in labels:
                    if lab not in self.mapping:
                        self._unknown(rid, lab)
                    if self.mapping[lab] is not None:
                        mapped.add(self.mapping[lab])
                ys.append([c for c in self.classes if c in mapped])
            out = df.copy()
            out["y"] = ys
            return out[out["y"].map(len) > 0].reset_index(drop=True)
        labels = df["label"].astype(object)
        bad = ~labels.isin(list(self.mapping))
        if bad.any():
            i = bad.idxmax()
            self._unknown(df.at[i, "id"], labels[i], n=int(bad.sum()))
        y = labels.map(self.mapping)
        out = df.copy()
        out["y"] = y
        return out[y.notna()].reset_index(drop=True)

    def _unknown(self, rid, lab, n: int = 1):
        known = ", ".join(k for k in self.mapping)
        more = f" ({n} utterances in all)" if n > 1 else ""
        raise LabelError(
            f"utterance {rid}: label '{lab}' is not known to view '{self.name}'{more}. "
            f"Known labels: {known}. Map it or drop it in the view.")


@dataclass(frozen=True)
class LabelSet:
    """The labels a corpus can carry and the task views defined on them."""

    labels: tuple[str, ...]
    views: dict[str, LabelView] = field(default_factory=dict)
    default_view: str = "default"

    def view(self, name: str | None = None) -> LabelView:
        name = name or self.default_view
        if name == "default":
            name = self.default_view
        if name not in self.views:
            raise UnknownNameError("label view", name, self.views)
        return self.views[name]
