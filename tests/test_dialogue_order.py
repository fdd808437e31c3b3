"""Dialogue order in the manifests, the ERC views, and context heads in runs.

Corpora: the miniature native copies in tests/fixtures (MELD, IEMOCAP, EmotionTalk); runs:
the generated demo_dialog corpus (text, TF-IDF) end to end.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench.corpora import get_corpus
from affectbench.dialogue import check_fold_dialogues, check_turns, gap_caveat
from affectbench.errors import CorpusError, ProtocolError, SpecError
from affectbench.protocol import make_folds
from affectbench.runner import run
from affectbench.spec import load_spec
from fixtures import emotiontalk_fixture as etfx
from fixtures import iemocap_fixture as ifx
from fixtures import meld_fixture as mfx


def _meld_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def _write_rows(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def test_meld_order_columns_and_sentiment_view(tmp_path):
    b = mfx.build(tmp_path, clips=False)
    p = ab.prepare("meld", b.root)
    df = p.manifest
    for _, g in df.groupby("dialogue"):
        assert list(g["turn"]) == list(range(len(g)))  # 0, 1, … in row order
    assert df["speaker"].notna().all()
    v = get_corpus("meld").labelset.view("sentiment").apply(df)
    want = Counter({"neutral": "neutral", "positive": "positive", "negative": "negative"}[mfx.SENTIMENT[r.emotion]]
                   for r in b.rows)
    assert Counter(v["y"]) == want and len(v) == len(df)
    assert list(get_corpus("meld").labelset.view("sentiment").classes) == ["negative", "neutral", "positive"]


def test_meld_missing_turn_is_refused_or_reported(tmp_path):
    b = mfx.build(tmp_path, clips=False)
    path = b.root / "train_sent_emo.csv"
    rows = _meld_rows(path)
    gone = rows.pop(7)  # train dia1 utt2 (the header is row 0)
    assert (gone[5], gone[6]) == ("1", "2")
    _write_rows(path, rows)
    with pytest.raises(CorpusError, match=rf"{path}: dialogue train_dia1 lacks turn\(s\) 2 \(1 dialogue"):
        ab.prepare("meld", b.root)
    p = ab.prepare("meld", b.root, on_error="skip")
    assert any("1 dialogue(s) have missing turns, e.g. train_dia1 (turn 2)" in c for c in p.caveats)


def test_meld_duplicated_turn_names_both_lines(tmp_path):
    b = mfx.build(tmp_path, clips=False)
    path = b.root / "test_sent_emo.csv"
    rows = _meld_rows(path)
    rows[3][6] = rows[2][6]  # utterance ids 1, 1 in dialogue 0
    _write_rows(path, rows)
    with pytest.raises(CorpusError, match=r"test_sent_emo.csv:4: malformed row \(dia0_utt1 already appears on line 3\)"):
        ab.prepare("meld", b.root)


def test_check_turns_rules():
    df = pd.DataFrame({"id": list("abcd"), "dialogue": ["x", "x", "y", "y"], "turn": pd.array([0, 1, 0, 0], "Int64")})
    with pytest.raises(CorpusError, match=r"f.csv: dialogue y: turn 0 appears twice \(c, d\)"):
        check_turns(df, "f.csv")
    df.loc[3, "turn"] = pd.NA
    with pytest.raises(CorpusError, match="utterance d has a dialogue but no turn number"):
        check_turns(df, "f.csv")
    df.loc[3, "turn"] = 3
    with pytest.raises(CorpusError, match=r"dialogue y lacks turn\(s\) 1, 2"):
        check_turns(df, "f.csv")
    check_turns(df, "f.csv", gaps=False)
    assert gap_caveat(df) == ["1 dialogue(s) have missing turns, e.g. y (turn 1): context heads see "
                              "them without those utterances"]


def test_iemocap_six_view_and_order(tmp_path):
    b = ifx.build(tmp_path, sessions=(1,))
    p = ab.prepare("iemocap", b.root)
    df = p.manifest
    for _, g in df.groupby("dialogue"):
        g = g.sort_values("turn")
        assert list(g["turn"]) == list(range(len(g)))
        assert g["audio"].notna().all()
    view = get_corpus("iemocap").labelset.view("six")
    v = view.apply(df)
    six = {"happy", "sad", "neutral", "angry", "excited", "frustrated"}
    assert Counter(v["y"]) == Counter(lab for lab in df["label"] if lab in six)
    assert "excited" in set(v["y"]) and "frustrated" in set(v["y"])  # not merged, unlike "four"
    exp = get_corpus("iemocap").expected_views["six"]
    assert exp["total"] == sum(exp["y"].values()) == 7380
    # the six totals are the confirmed consensus totals of the full release
    assert all(get_corpus("iemocap").expected["label"][c] == n for c, n in exp["y"].items())
    assert any("view 'six': " in m for m in p.problems)  # a one-session copy is partial


def test_emotiontalk_duplicated_turn_is_refused(tmp_path):
    utts = etfx.make_utts({"G00002": ("02", "03")}, dialogues=1, per_dialogue=4, specials=False)
    twin = dataclasses.replace(utts[1], speaker=utts[0].speaker)  # turn 2, said by the other speaker
    etfx.write_release(tmp_path, utts + [twin], layout="tree")
    with pytest.raises(CorpusError, match=r"dialogue G00002_01: turn 2 appears twice"):
        ab.prepare("emotiontalk", tmp_path)


def test_fold_check_and_dialogue_validation():
    df = pd.DataFrame({"id": [f"u{i}" for i in range(12)], "speaker": list("abab" * 3),
                       "session": ["s1"] * 4 + ["s2"] * 4 + ["s3"] * 4,
                       "dialogue": ["d1", "d1", "d2", "d2", "d3", "d3", "d4", "d4", "d5", "d5", "d6", "d6"],
                       "turn": [0, 1] * 6, "split": None, "label": "x"})
    df["speaker"] = df["session"] + df["speaker"]
    for f in make_folds(df, "logo", group="session", valid_unit="dialogue"):
        check_fold_dialogues(df, f)
        assert set(df["dialogue"].iloc[f.valid]).isdisjoint(df["dialogue"].iloc[f.train])
    (f,) = make_folds(df, "logo", group="session", valid_unit="speaker")[:1]
    with pytest.raises(ProtocolError, match=r"fold s1: dialogue d\d is split across train and valid"):
        check_fold_dialogues(df, f)


# ---- runs ---------------------------------------------------------------------------------
def _spec(tmp_path, **head):
    return load_spec(data={"name": "ctx", "output_dir": str(tmp_path), "corpus": {"name": "demo_dialog"},
                           "features": {"extractors": ["tfidf"]},
                           "head": {"kind": "ctx_gru", "epochs": 15, "lr": 3e-3, "patience": 5,
                                    "weight_decay": 1e-4, **head},
                           "metrics": {"bootstrap": 50}})


def test_run_on_demo_dialog_states_context(tmp_path):
    res = run(_spec(tmp_path, context="past+future"))
    info = json.loads((res.folder / "run.json").read_text())
    cx = info["tested"]["context"]
    assert cx["turns"] == "past+future" and cx["dialogues"] == 96
    assert info["protocol"]["valid_unit"] == "dialogue" and info["protocol"]["speaker_independent"]
    assert all(f["head"]["context"] == "past+future" for f in info["protocol"]["folds"])
    report = (res.folder / "report.md").read_text()
    assert "conversation context: **past+future**" in report and "offline analysis" in report
    assert res.metrics["pooled"]["n"] == 1152
    # past vs past+future are two runs (the option is part of the identity) …
    ident = json.loads((res.folder / "identity.json").read_text())
    assert ident["spec"]["head"]["context"] == "past+future"
    # … and for an utterance-level head it decides nothing, so it is not in its identity
    lin = load_spec(data={"name": "x", "corpus": {"name": "demo_dialog"}, "features": {"extractors": ["tfidf"]}})
    assert "context" not in lin.deciding()["head"]


def test_context_head_needs_dialogues(tmp_path):
    spec = load_spec(data={"name": "bad", "output_dir": str(tmp_path), "corpus": {"name": "demo"},
                           "features": {"extractors": ["tfidf"]}, "head": {"kind": "dialoguegcn"}})
    with pytest.raises(SpecError, match=r"head 'dialoguegcn' models conversation context, but corpus 'demo' "
                                        r"has no dialogue order \(dialogue, turn empty\).*demo_dialog.*meld"):
        run(spec)
    with pytest.raises(SpecError, match="'head.context' = 'past\\+future' applies to context heads"):
        load_spec(data={"name": "x", "corpus": {"name": "demo_dialog"}, "head": {"context": "past+future"}})
    with pytest.raises(SpecError, match="'head.context' = 'future' is not one of past, past\\+future"):
        load_spec(data={"name": "x", "corpus": {"name": "demo_dialog"}, "head": {"kind": "ctx_gru",
                                                                               "context": "future"}})
    bad = load_spec(data={"name": "split", "output_dir": str(tmp_path), "corpus": {"name": "demo_dialog"},
                          "features": {"extractors": ["tfidf"]}, "protocol": {"kind": "loso"},
                          "head": {"kind": "ctx_window"}})
    with pytest.raises(ProtocolError, match="is split across .*protocol.group"):
        run(bad)
