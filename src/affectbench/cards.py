"""Benchmark-card records: the JSONL exchange format of the seed benchmark cards.

A card record is ``{"id": …, "sentence": …, "label": …}`` with the short label
codes the cards use (``neu``, ``hap``, ``sad``, ``ang`` …). ``score`` reads a
predictions file in the same shape and scores it against a prepared corpus.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import AffectbenchError, LabelError
from .labels import canonical

SHORT = {"neutral": "neu", "happy": "hap", "sad": "sad", "angry": "ang", "fear": "fea",
         "disgust": "dis", "surprise": "sur", "frustrated": "fru", "excited": "exc",
         "other": "oth", "boredom": "bor", "calm": "cal", "contempt": "con"}


def export_cards(df: pd.DataFrame, path: Path | None, short: bool = True) -> list[dict]:
    """One record per utterance of a label view's frame (column ``y``)."""
    recs = []
    for rid, text, y in zip(df["id"], df["text"].astype(object), df["y"]):
        lab = SHORT.get(y, y) if short and isinstance(y, str) else y
        recs.append({"id": rid, "sentence": None if pd.isna(text) else text, "label": lab})
    if path is not None:
        with open(path, "w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return recs


def read_predictions(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rid, lab = str(rec["id"]), rec["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise AffectbenchError(f"{path}:{lineno}: expected a JSON object with 'id' and "
                                       f"'label' ({type(e).__name__}: {e})") from None
            if rid in out:
                raise AffectbenchError(f"{path}:{lineno}: duplicate id {rid}")
            out[rid] = lab
    return out


NO_PREDICTION = "(no prediction)"


def score(view_df: pd.DataFrame, classes: list[str], preds: dict[str, str], *, n_boot: int = 1000,
          seed: int = 0, allow_missing: bool = False, source: str = "predictions") -> dict:
    """Score predictions against the view's truth.

    Every id of the view needs a prediction: scoring only the ids given would report a
    subset's accuracy as the benchmark's. With ``allow_missing`` an id without a prediction
    counts as wrong (a prediction of no class), so the metrics still cover the whole view.
    """
    from .metrics import classification

    long = {v: k for k, v in SHORT.items()}
    truth = dict(zip(view_df["id"], view_df["y"]))
    unknown = [i for i in preds if i not in truth]
    if unknown:
        raise AffectbenchError(f"{len(unknown)} predicted ids are not in the corpus view "
                               f"(e.g. {unknown[:3]})")
    missing = [i for i in truth if i not in preds]
    if missing and not allow_missing:
        raise AffectbenchError(
            f"{source}: {len(missing)} of {len(truth)} utterances have no prediction "
            f"(e.g. {missing[:3]}); scoring the rest would overstate the result. Predict every id, "
            "or pass --allow-missing to count the missing ones as wrong")
    idx = {c: i for i, c in enumerate(classes)}
    y, p = [], []
    for rid, lab in preds.items():
        c = canonical(long.get(str(lab), str(lab)))
        if c not in idx:
            raise LabelError(f"prediction for {rid}: label '{lab}' is not one of {classes}")
        y.append(idx[truth[rid]])
        p.append(idx[c])
    cols = list(classes)
    if missing:
        # an extra predicted class that no utterance has: wrong for every metric, and absent
        # from the truth, so UAR and macro-F1 still average over the real classes only
        cols.append(NO_PREDICTION)
        y += [idx[truth[rid]] for rid in missing]
        p += [len(classes)] * len(missing)
    out = classification(np.array(y), np.array(p), cols, n_boot=n_boot, seed=seed)
    for key in ("per_class_recall", "support"):
        out.get(key, {}).pop(NO_PREDICTION, None)
    out["missing_predictions"] = len(missing)
    return out
