"""EmoBank adapter (regression targets, official split) on a miniature copy."""
from __future__ import annotations

import pandas as pd
import pytest

from affectbench.corpora import get_corpus
from affectbench.corpora.emobank import EmoBank
from affectbench.errors import CorpusError, LabelError
from affectbench.labels import LabelView
from affectbench.protocol import make_folds
from fixtures.emobank_fixture import SENTENCES, build_emobank


def test_rows_targets_and_split(tmp_path):
    p = get_corpus("emobank").prepare(build_emobank(tmp_path))
    df = p.manifest
    assert len(df) == 24
    assert df["split"].value_counts().to_dict() == {"train": 16, "dev": 4, "test": 4}
    assert df["label"].isna().all() and df["speaker"].isna().all()
    for c in ("valence", "arousal", "dominance"):
        assert df[c].between(1, 5).all() and df[c].nunique() > 1
    assert set(df["text"]) == set(SENTENCES)  # quoted commas, quotes and a line break survive
    assert (df["language"] == "en").all()
    assert EmoBank.task == "regression" and EmoBank.targets == ("valence", "arousal", "dominance")
    probs = "\n".join(p.problems)
    assert "24 utterances, a complete copy has 10062" in probs
    assert "split 'train': 16, expected 8062" in "\n".join(p.warnings)  # split sizes unverified


def test_official_protocol(tmp_path):
    df = get_corpus("emobank").prepare(build_emobank(tmp_path)).manifest
    (fold,) = make_folds(df, EmoBank.default_protocol["kind"])
    assert (len(fold.train), len(fold.valid), len(fold.test)) == (16, 4, 4)
    assert not fold.speaker_independent


def test_regression_views(tmp_path):
    df = get_corpus("emobank").prepare(build_emobank(tmp_path)).manifest
    if not hasattr(LabelView, "regression"):  # label module without regression views: refused
        with pytest.raises(LabelError, match="valence, arousal, dominance.*regression"):
            EmoBank.labelset.view()
        return
    vad = EmoBank.labelset.view()
    assert vad.name == "vad" and vad.task == "regression"
    out = vad.apply(df)
    assert len(out) == 24 and list(out["y"].iloc[0]) == list(df[["valence", "arousal", "dominance"]].iloc[0])
    assert EmoBank.labelset.view("arousal").targets == ("arousal",)


def test_end_to_end_regression(tmp_path):
    import affectbench as ab

    if not hasattr(LabelView, "regression"):
        pytest.skip("no regression views in affectbench.labels yet")
    root = build_emobank(tmp_path / "eb", n_train=40, n_dev=10, n_test=10)
    res = ab.run(ab.load_spec(data={
        "name": "emobank-e2e", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "emobank", "root": str(root), "allow_partial": True},
        "features": {"extractors": ["tfidf"], "jobs": 1}, "metrics": {"bootstrap": 100}}))
    m = res.metrics
    assert m["task"] == "regression" and len(m["folds"]) == 1 and m["pooled"]["n"] == 10


def test_corpus_folder_as_root(tmp_path):
    root = build_emobank(tmp_path, in_corpus_folder=False)
    assert len(get_corpus("emobank").prepare(root).manifest) == 24


def test_not_an_emobank_root(tmp_path):
    with pytest.raises(CorpusError, match="no corpus/emobank.csv.*id, split, V, A, D, text"):
        get_corpus("emobank").prepare(tmp_path)
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "emobank.csv").write_text("id,valence,text\nx,3,hi\n")
    with pytest.raises(CorpusError, match="is not EmoBank's"):
        get_corpus("emobank").prepare(tmp_path)


@pytest.mark.parametrize("bad, why", [
    (["bad_1", "train", "3.1", "x", "3.0", "text"], "could not convert string to float"),
    (["bad_2", "valid", "3.1", "3.0", "3.0", "text"], "split 'valid'"),
    (["bad_3", "test", "7.5", "3.0", "3.0", "text"], "outside the 1–5 scale"),
    (["bad_4", "test", "3.0", "3.0"], "4 fields, expected 6"),
])
def test_bad_rows(tmp_path, bad, why):
    # line 28: header + 24 rows, two of whose texts hold a line break
    root = build_emobank(tmp_path, extra_rows=[bad])
    with pytest.raises(CorpusError, match=f"emobank.csv:28: .*{why}"):
        get_corpus("emobank").prepare(root)
    p = get_corpus("emobank").prepare(root, on_error="skip")
    assert len(p.manifest) == 24 and len(p.issues.skipped) == 1
    assert p.issues.skipped[0][0].endswith("emobank.csv:28")


def test_duplicate_ids_refused(tmp_path):
    root = build_emobank(tmp_path, extra_rows=[["doc00_0_39", "train", 3, 3, 3, "again"]])
    with pytest.raises(CorpusError, match="duplicate utterance ids.*doc00_0_39"):
        get_corpus("emobank").prepare(root)


def test_manifest_round_trip(tmp_path):
    from affectbench import manifest as mf

    df = get_corpus("emobank").prepare(build_emobank(tmp_path)).manifest
    back = mf.load(mf.save(df, tmp_path / "m.parquet"))
    # check_dtype=False: manifest.normalize leaves "corpus" a NaN-backed string column, load() an
    # NA-backed one (reported to the manifest owner); the values must be identical
    pd.testing.assert_frame_equal(df, back, check_dtype=False)


def test_empty_text_with_a_per_fold_extractor(tmp_path):
    """TF-IDF is fitted per fold, yet an empty text is refused up front by id, or skipped and counted."""
    import affectbench as ab
    from affectbench.errors import MediaError

    root = build_emobank(tmp_path / "eb", n_train=40, n_dev=10, n_test=10,
                         extra_rows=[["blank_1_2", "train", 3.0, 3.0, 3.0, "   "]])
    data = {"name": "emobank-blank", "output_dir": str(tmp_path / "runs"),
            "corpus": {"name": "emobank", "root": str(root), "allow_partial": True},
            "features": {"extractors": ["tfidf"]}, "metrics": {"bootstrap": 0}}
    with pytest.raises(MediaError, match=r"utterance blank_1_2: empty text \(1 in all\)"):
        ab.run(ab.load_spec(data=data))
    data["corpus"]["on_error"] = "skip"
    res = ab.run(ab.load_spec(data=data))
    assert res.metrics["n_skipped"] == 1 and "dropped 1 utterance" in res.report.read_text()
