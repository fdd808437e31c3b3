import numpy as np
import pytest

from affectbench.errors import LabelError, ProtocolError, SpecError
from affectbench.labels import LabelView, canonical
from affectbench.manifest import normalize
from affectbench.protocol import make_folds


def frame(speakers, sessions=None, splits=None, labels=None):
    return normalize([{"id": f"u{i}", "speaker": s, "session": (sessions or speakers)[i],
                       "split": splits[i] if splits else None,
                       "label": labels[i] if labels else "neutral"} for i, s in enumerate(speakers)], "t")


def test_canonical_synonyms():
    assert canonical("Anger") == "angry"
    assert canonical("fearful") == "fear"
    assert canonical("exc") == "excited"


def test_view_maps_drops_and_refuses_unknown():
    v = LabelView("four", ("neutral", "happy"), {"neutral": "neutral", "happy": "happy",
                                                 "excited": "happy", "other": None})
    df = frame(["a"] * 4, labels=["neutral", "excited", "other", "happy"])
    out = v.apply(df)
    assert out["y"].tolist() == ["neutral", "happy", "happy"]
    bad = frame(["a", "a"], labels=["neutral", "bored"])
    with pytest.raises(LabelError, match="'bored' is not known to view 'four'.*Known labels: neutral"):
        v.apply(bad)


def test_loso_folds_are_speaker_disjoint_and_validation_from_training():
    spk = [f"s{i % 5}" for i in range(50)]
    df = frame(spk)
    folds = make_folds(df, "loso", valid_groups=1, seed=3)
    assert len(folds) == 5
    test_union = np.concatenate([f.test for f in folds])
    assert sorted(test_union) == list(range(50))  # every utterance tested exactly once
    for f in folds:
        s = df["speaker"].to_numpy()
        assert set(s[f.test]) == set(f.test_groups)
        assert not set(s[f.test]) & set(s[np.concatenate([f.train, f.valid])])
        assert len(f.valid) > 0 and not set(s[f.valid]) & set(s[f.test])
        assert len(f.train) + len(f.valid) + len(f.test) == 50
    # validation groups rotate: not the same speaker for every fold
    assert len({tuple(f.valid_groups) for f in folds}) > 1
    # fingerprints are stable for the same seed and distinct per fold
    again = make_folds(df, "loso", valid_groups=1, seed=3)
    assert [f.fingerprint for f in folds] == [f.fingerprint for f in again]
    assert len({f.fingerprint for f in folds}) == 5


def test_speaker_independence_claim_is_enforced():
    # sessions do not nest speakers: speaker b records in sessions 1 and 2
    df = frame(["a", "b", "b", "c", "d", "e"], sessions=["1", "1", "2", "2", "3", "3"])
    with pytest.raises(ProtocolError, match="claims speaker independence.*'b'"):
        make_folds(df, "logo", group="session")
    folds = make_folds(df, "logo", group="session", speaker_independent=False, valid_groups=1)
    assert sum(f.test_speakers_seen_in_training for f in folds) > 0


def test_official_split_reports_speaker_overlap():
    df = frame(["a", "b", "a", "c", "b"], splits=["train", "train", "test", "dev", "test"])
    (f,) = make_folds(df, "official")
    assert not f.speaker_independent
    assert f.test_speakers_seen_in_training == 2
    assert set(f.valid) == {3} and set(f.test) == {2, 4}


def test_fixed_folds_and_bad_kinds():
    df = frame([f"{i:02d}" for i in range(1, 7)] * 3)
    folds = make_folds(df, "folds", folds=[["01", "02"], ["03", "04"], ["05", "06"]])
    assert [f.test_groups for f in folds] == [["01", "02"], ["03", "04"], ["05", "06"]]
    with pytest.raises(ProtocolError, match="not in the data"):
        make_folds(df, "folds", folds=[["01"], ["99"]])
    with pytest.raises(SpecError, match="unknown protocol kind 'lopo'"):
        make_folds(df, "lopo")


def test_fixed_folds_after_skipped_files_drop_empty_groups():
    df = frame(["01", "02", "03", "04"] * 3)
    folds = make_folds(df, "folds", folds=[["01", "05"], ["02"], ["06"], ["03", "04"]],
                       known_groups=["01", "02", "03", "04", "05", "06"])
    assert [f.test_groups for f in folds] == [["01"], ["02"], ["03", "04"]]
