"""CK+ adapter: full release and CK+48 layouts on miniature copies, and the real CK+48 copy."""
from __future__ import annotations

import numpy as np
import pytest

from affectbench.corpora import get_corpus
from affectbench.corpora.ckplus import FOLDS, SUBJECT_SEQUENCES, CKPlus, greedy_folds
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds
from conftest import shared_data
from fixtures.ckplus_fixture import SEQUENCES, build_ckplus48, build_ckplus_full

LABELLED = [s for s in SEQUENCES if s[3] is not None]


def _disjoint(df, folds):
    for f in folds:
        test = set(df["speaker"].iloc[f.test])
        assert test.isdisjoint(df["speaker"].iloc[np.concatenate([f.train, f.valid])])
        assert f.test_speakers_seen_in_training == 0


@pytest.mark.parametrize("nest", [False, True])
def test_full_release_peak_frame(tmp_path, nest):
    c = get_corpus("ckplus")
    p = c.prepare(build_ckplus_full(tmp_path, nest=nest))
    df = p.manifest.set_index("id")
    assert c.layout == "full" and len(df) == len(LABELLED)  # the unlabelled S022_005 gives no row
    row = df.loc["S010_004_00000019"]  # code 1, last of 19 frames
    assert row["label"] == "angry" and row["speaker"] == "S010" and row["session"] == "S010"
    assert row["dialogue"] == "S010_004" and row["turn"] == 19
    assert row["image"].endswith("cohn-kanade-images/S010/004/S010_004_00000019.png")
    assert set(df["label"]) == {"angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"}
    assert any("a complete copy has 327" in x for x in p.problems)
    assert any("speaker 'S999': 0, expected 2" in x for x in p.problems)


def test_full_release_options(tmp_path):
    root = build_ckplus_full(tmp_path)
    df = CKPlus(peak_frames=3).prepare(root).manifest
    assert len(df) == 3 * len(LABELLED)
    assert sorted(df[df["dialogue"] == "S005_001"]["turn"]) == [9, 10, 11]
    df = CKPlus(neutral_first=True).prepare(root).manifest
    neutral = df[df["label"] == "neutral"]
    assert len(neutral) == len(LABELLED) and (neutral["turn"] == 1).all()
    eight = CKPlus.labelset.view("eight").apply(df)
    assert len(eight) == 2 * len(LABELLED)
    assert len(CKPlus.labelset.view().apply(df)) == len(LABELLED)  # seven: neutral dropped
    six = CKPlus.labelset.view("six").apply(df)
    assert "contempt" not in set(six["y"]) and len(six) == len(LABELLED) - 1


def test_ck48_layout(tmp_path):
    c = get_corpus("ckplus")
    p = c.prepare(build_ckplus48(tmp_path))
    df = p.manifest
    assert c.layout == "ck48" and len(df) == 3 * len(LABELLED)
    assert df.groupby("dialogue").size().eq(3).all()
    assert df.set_index("id").loc["S011_001_00000016", "label"] == "sad"  # from the 'sadness' folder
    assert any("a complete copy has 981" in x for x in p.problems)
    assert any("near-identical" in x for x in p.caveats)
    folds = make_folds(df, "folds", group="speaker", folds=[["S005", "S010"], ["S011"], ["S014", "S022"]])
    _disjoint(df, folds)


def test_not_a_ckplus_root(tmp_path):
    with pytest.raises(CorpusError, match="not a CK\\+ root.*cohn-kanade-images.*anger contempt"):
        get_corpus("ckplus").prepare(tmp_path)
    (tmp_path / "cohn-kanade-images").mkdir()
    with pytest.raises(CorpusError, match="no Emotion/ folder"):
        get_corpus("ckplus").prepare(tmp_path)


@pytest.mark.parametrize("damage, why", [
    (lambda r: (r / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_text("disgust\n"),
     "S005_001_00000011_emotion.txt: does not hold one number"),
    (lambda r: (r / "Emotion/S005/001/S005_001_00000011_emotion.txt").write_text("   9.0000000e+00\n"),
     "emotion code 9.0 is not one of 0–7"),
    (lambda r: (r / "cohn-kanade-images/S005/001/S005_001_00000011.png").unlink(),
     "S005_001_00000011.png: missing: the labelled frame"),
    (lambda r: (r / "Emotion/S005/001/S005_1_emotion.txt").write_text("1\n"),
     "S005_1_emotion.txt: not a CK\\+ emotion file"),
])
def test_bad_full_release_files(tmp_path, damage, why):
    root = build_ckplus_full(tmp_path)
    damage(root)
    with pytest.raises(CorpusError, match=why):
        get_corpus("ckplus").prepare(root)
    p = get_corpus("ckplus").prepare(root, on_error="skip")
    assert len(p.issues.skipped) == 1
    assert len(p.manifest) in (len(LABELLED), len(LABELLED) - 1)


def test_bad_ck48_files(tmp_path):
    root = build_ckplus48(tmp_path)
    (root / "anger" / "face_01.png").write_bytes((root / "anger").joinpath(
        next(iter(sorted(p.name for p in (root / "anger").iterdir())))).read_bytes())
    with pytest.raises(CorpusError, match="face_01.png: not a CK\\+48 image name"):
        get_corpus("ckplus").prepare(root)
    (root / "anger" / "face_01.png").unlink()
    (root / "joy_ish").mkdir()
    (root / "joy_ish" / "S005_001_00000001.png").write_bytes(b"x")
    with pytest.raises(CorpusError, match="folder 'joy_ish' is not a CK\\+ emotion"):
        get_corpus("ckplus").prepare(root)
    p = get_corpus("ckplus").prepare(root, on_error="skip")
    assert len(p.manifest) == 3 * len(LABELLED) and len(p.issues.skipped) == 1


def test_fold_lists_follow_the_documented_rule():
    assert FOLDS == greedy_folds(SUBJECT_SEQUENCES)
    flat = [s for f in FOLDS for s in f]
    assert len(FOLDS) == 10 and sorted(flat) == sorted(SUBJECT_SEQUENCES) and len(flat) == 118
    loads = [sum(SUBJECT_SEQUENCES[s] for s in f) for f in FOLDS]
    assert sum(loads) == 327 and max(loads) - min(loads) <= 1


def test_real_ckplus48():
    root = shared_data("ckplus48")
    c = get_corpus("ckplus")
    p = c.prepare(root)
    df = p.manifest
    assert c.layout == "ck48" and len(df) == 981 and p.problems == [] and not p.issues.skipped
    assert df["label"].value_counts().to_dict() == {
        "angry": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207, "sad": 84, "surprise": 249}
    assert df["speaker"].nunique() == 118 and df["dialogue"].nunique() == 327
    assert CKPlus().check(df) == []  # a fresh adapter infers the layout of a saved manifest
    view = CKPlus.labelset.view().apply(df)
    proto = CKPlus.default_protocol
    folds = make_folds(view, proto["kind"], group=proto["group"], folds=proto["folds"])
    assert len(folds) == 10 and sum(len(f.test) for f in folds) == 981
    _disjoint(view, folds)
