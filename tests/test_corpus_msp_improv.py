"""MSP-IMPROV adapter on a miniature copy in the native layout (tests/fixtures/msp_improv_fixture.py)."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench import audio
from affectbench.corpora import get_corpus
from affectbench.corpora.msp_improv import utterance_id
from affectbench.errors import CorpusError, LabelError
from affectbench.protocol import make_folds
from fixtures import msp_improv_fixture as fx

CANON = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral", "O": "other", "X": "xxx"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("msp"))  # spelled Evalution.txt


@pytest.fixture(scope="module")
def prepared(built):
    return ab.prepare("msp_improv", built.root)


def test_counts_ids_speakers_sessions(built, prepared):
    df = prepared.manifest
    assert built.eval_file.name == "Evalution.txt"
    assert len(df) == 24
    assert set(df["id"]) == {u.id for u in built.utts}
    assert all(i.startswith("MSP-IMPROV-S0") and not i.endswith(".avi") for i in df["id"])
    assert Counter(df["label"]) == Counter(CANON[u.cat] for u in built.utts)
    assert Counter(df["label"])["xxx"] == 1 and Counter(df["label"])["other"] == 2
    assert sorted(df["speaker"].unique()) == ["F01", "F02", "F03", "M01", "M02", "M03"]
    r = df.set_index("id").loc["MSP-IMPROV-S02H-M02-S-MF02"]
    assert r["speaker"] == "M02" and r["session"] == "session2"
    assert sorted(df["session"].unique()) == ["session1", "session2", "session3"]
    assert prepared.issues.skipped == []


def test_values_votes_text_and_media(built, prepared):
    df = prepared.manifest.set_index("id")
    u = built.utts[2]
    r = df.loc[u.id]
    a, v, d, _n = u.avdn
    assert (r["arousal"], r["valence"], r["dominance"]) == pytest.approx((a, v, d))
    votes = json.loads(r["votes"])  # strict JSON: NaN is written as null
    assert [c["rater"] for c in votes["categorical"]] == [
        "Female Sub-Annotator-002", "rater_b1", "Male-07", "Male-07"]  # a duplicated line is kept
    assert votes["categorical"][0] == {"rater": "Female Sub-Annotator-002", "labels": ["Happy"],
                                       "secondary": ["Frustrated", "Annoyed"]}
    assert votes["categorical"][1]["secondary"] == []
    assert votes["categorical"][2]["secondary"] == ["Concerned", "Curious"]
    assert votes["dimensional"][1] == {"rater": "rater_b1", "arousal": 2.0, "valence": 3.0,
                                       "dominance": None, "naturalness": 3.0}
    # transcripts from transcripts.csv, whatever prefix the id has there; speakers.csv is ignored
    assert r["text"] == u.text and df["text"].isna().sum() == 1
    assert any("1 utterance(s) have no transcript" in c for c in prepared.caveats)
    # audio with and without the Audio/ level; video only where the copy has it
    s1, s3 = df.loc[built.utts[0].id], df.loc[built.utts[-1].id]
    assert s1["audio"].endswith("MSP-IMPROV/Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav")
    assert s3["audio"].endswith("MSP-IMPROV/session3/S04N/P/MSP-IMPROV-S04N-M03-P-MF03.wav")
    assert s1["video"].endswith("Video/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.avi")
    assert pd.isna(s3["video"]) and df["video"].notna().sum() == 8
    x = audio.load(s1["audio"], 16000)  # 44.1 kHz in the copy, 16 kHz out
    assert x.dtype == np.float32 and abs(len(x) - 0.3 * 16000) <= 2


def test_both_spellings_and_utterance_ids(tmp_path):
    b = fx.build(tmp_path, sessions=(4,), misspelled=False)
    assert b.eval_file.name == "Evaluation.txt"
    p = ab.prepare("msp_improv", tmp_path)  # the parent of MSP-IMPROV/ works too
    assert set(p.manifest["session"]) == {"session4"} and len(p.manifest) == 8
    for name in ("UTD-IMPROV-S01A-F01-P-FM01.avi", "MSP-IMPROV-S01A-F01-P-FM01.wav", "S01A-F01-P-FM01"):
        assert utterance_id(name) == "MSP-IMPROV-S01A-F01-P-FM01"


def test_views_and_unknown_label(prepared):
    c = get_corpus("msp_improv")
    four = c.labelset.view("four").apply(prepared.manifest)
    assert len(four) == 21 and set(four["y"]) == {"angry", "happy", "sad", "neutral"}
    assert len(c.labelset.view("all").apply(prepared.manifest)) == 23
    assert c.labelset.view("vad").task == "regression"
    assert len(c.labelset.view("vad").apply(prepared.manifest)) == 24
    bad = prepared.manifest.copy()
    bad.loc[0, "label"] = "frustrated"
    with pytest.raises(LabelError, match="frustrated"):
        c.labelset.view("four").apply(bad)


def test_session_folds_are_speaker_independent(prepared):
    view = get_corpus("msp_improv").labelset.view("four").apply(prepared.manifest)
    folds = make_folds(view, "logo", group="session")
    assert len(folds) == 3
    for f in folds:
        test_ids = set(view["id"].iloc[f.test])
        assert not test_ids & set(view["id"].iloc[np.concatenate([f.train, f.valid])])
        assert not set(view["speaker"].iloc[f.test]) & set(view["speaker"].iloc[f.train])
        assert f.test_speakers_seen_in_training == 0


def test_missing_wav(tmp_path):
    b = fx.build(tmp_path, sessions=(1, 2))
    u = b.utts[3]  # session 1: under Audio/ (the last session has no Audio/ level)
    wav = b.root / "Audio" / u.session / u.fields[0] / u.fields[2] / f"{u.id}.wav"
    wav.unlink()
    with pytest.raises(CorpusError) as e:
        ab.prepare("msp_improv", b.root)
    lineno = next(i for i, l in enumerate(b.eval_file.read_text().splitlines(), 1) if u.id[11:] in l)
    assert f"{b.eval_file}:{lineno}" in str(e.value) and str(wav) in str(e.value)
    p = ab.prepare("msp_improv", b.root, on_error="skip")
    assert len(p.manifest) == 15 and u.id not in set(p.manifest["id"])
    assert p.issues.skipped[0][0] == str(wav)


def test_malformed_lines(tmp_path):
    b = fx.build(tmp_path, sessions=(1, 2))
    lines = b.eval_file.read_text().splitlines()
    lines[1] = "this rater line has no values"  # inside the first block
    k = next(i for i, l in enumerate(lines) if l.startswith("UTD-IMPROV-S02H-F02"))
    lines[k] = lines[k].replace("; H;", "; Q;")  # a category outside A/H/S/N/O/X
    b.eval_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match=rf"{b.eval_file}:2: malformed line \(rater line"):
        ab.prepare("msp_improv", b.root)
    p = ab.prepare("msp_improv", b.root, on_error="skip")
    assert [w for w, _ in p.issues.skipped] == [f"{b.eval_file}:2", f"{b.eval_file}:{k + 1}"]
    assert "category 'Q'" in p.issues.skipped[1][1]
    assert len(p.manifest) == 15  # the bad head drops its utterance, its rater lines go with it


def test_not_an_msp_root(tmp_path):
    (tmp_path / "Audio").mkdir()
    with pytest.raises(CorpusError, match=r"not an MSP-IMPROV root.*Evaluation\.txt"):
        ab.prepare("msp_improv", tmp_path)
    (tmp_path / "Evaluation.txt").write_text("% nothing here\n")
    with pytest.raises(CorpusError, match="no 'UTD-IMPROV-"):
        ab.prepare("msp_improv", tmp_path)


def test_partial_copy_problems(prepared):
    problems, warnings = get_corpus("msp_improv").audit(prepared.manifest)
    assert "view 'four': 21 utterances, a complete copy has 7798" in problems
    # counts no public source confirms warn instead of refusing
    assert "24 utterances, a complete copy has 8438" in warnings
    assert "view 'four': y 'neutral': 6, expected 3477" in warnings


def test_end_to_end_egemaps(built, tmp_path):
    spec = ab.load_spec(data={
        "name": "msp-fixture", "output_dir": str(tmp_path),
        "corpus": {"name": "msp_improv", "root": str(built.root), "allow_partial": True},
        "features": {"extractors": ["egemaps"]}, "head": {"kind": "logreg"},
        "metrics": {"bootstrap": 20}})
    m = ab.run(spec).metrics
    assert len(m["folds"]) == 3 and m["pooled"]["n"] == 21
    assert {"war", "uar"} <= set(m["pooled"])
