"""`affectbench score` must score the whole view, never silently a subset."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from affectbench.cards import score
from affectbench.errors import AffectbenchError

EXE = [sys.executable, "-m", "affectbench.cli"]
CLASSES = ["neutral", "happy", "sad", "angry"]


def _view(n_per=10):
    ys = [c for c in CLASSES for _ in range(n_per)]
    return pd.DataFrame({"id": [f"u{i}" for i in range(len(ys))], "y": ys})


def test_missing_predictions_are_refused():
    df = _view()
    preds = {i: y for i, y in zip(df["id"], df["y"])}
    del preds["u0"], preds["u1"]
    with pytest.raises(AffectbenchError, match=r"2 of 40 utterances have no prediction.*--allow-missing"):
        score(df, CLASSES, preds, n_boot=0)


def test_allow_missing_counts_missing_as_wrong():
    df = _view()
    preds = {i: y for i, y in zip(df["id"], df["y"])}
    for i in range(10):  # every "neutral" utterance unpredicted: a perfect subset otherwise
        del preds[f"u{i}"]
    m = score(df, CLASSES, preds, n_boot=50, allow_missing=True)
    # over the 30 ids given the score would be 1.0; over the whole view it is 30/40
    assert m["n"] == 40 and m["missing_predictions"] == 10
    assert np.isclose(m["war"], 0.75) and np.isclose(m["uar"], 0.75)
    assert m["per_class_recall"]["neutral"] == 0.0 and m["support"]["neutral"] == 10
    assert "(no prediction)" not in m["per_class_recall"]
    # the missing class is absent from the truth, so macro-F1 still averages the 4 real classes
    assert np.isclose(m["macro_f1"], 0.75)


def _cli(*args):
    return subprocess.run(EXE + list(args), capture_output=True, text=True, env=os.environ.copy())


def test_score_cli_refuses_a_subset_then_allows_it(tmp_path):
    cards = tmp_path / "cards.jsonl"
    assert _cli("corpora", "export", "demo", "--view", "four", "--out", str(cards)).returncode == 0
    recs = [json.loads(x) for x in cards.read_text().splitlines()]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("\n".join(json.dumps({"id": r["id"], "label": r["label"]}) for r in recs[64:]))
    r = _cli("score", str(pred), "--corpus", "demo", "--view", "four")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "64 of 256 utterances have no prediction" in r.stderr and "--allow-missing" in r.stderr
    r = _cli("score", str(pred), "--corpus", "demo", "--view", "four", "--allow-missing", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["n"] == 256 and m["war"] == 0.75 and m["missing_predictions"] == 64
