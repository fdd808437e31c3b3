"""CREMA-D adapter on miniature copies in the native layout."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench.corpora import get_corpus
from affectbench.corpora.cremad import FOLDS, MALE, CremaD, sex_balanced_folds
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds
from fixtures.cremad_fixture import ALL_SENTENCES, SEX, build_cremad


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A complete copy: 91 actors × 82 files, less 3 per emotion and 5 neutral (= 7442)."""
    root = build_cremad(tmp_path_factory.mktemp("cremad_full"), sentences=ALL_SENTENCES,
                        video_actors=(1001,), seconds=0.01)
    for emo, n in (("ANG", 3), ("DIS", 3), ("FEA", 3), ("HAP", 3), ("SAD", 3), ("NEU", 5)):
        for p in sorted((root / "AudioWAV").glob(f"10[89]?_*_{emo}_XX.wav"))[:n]:
            p.unlink()
    return root


@pytest.fixture(scope="module")
def prepared(full):
    return get_corpus("cremad").prepare(full)


def test_complete_copy(prepared):
    df = prepared.manifest
    assert len(df) == 7442 and prepared.problems == []
    assert df["speaker"].nunique() == 91 and (df["speaker"] == df["session"]).all()
    assert set(df["dialogue"]) == set(ALL_SENTENCES)
    row = df.set_index("id").loc["1001_IEO_HAP_HI"]
    assert row["label"] == "happy" and row["speaker"] == "1001" and row["text"] == "It's eleven o'clock."
    assert row["audio"].endswith("AudioWAV/1001_IEO_HAP_HI.wav")
    assert row["video"].endswith("VideoFlash/1001_IEO_HAP_HI.flv")
    assert df["video"].notna().sum() == 82
    assert len(CremaD.labelset.view("four").apply(df)) == 4900


def test_demographics_and_sex_balanced_folds(full, prepared):
    demo = CremaD.demographics(full)
    assert len(demo) == 91 and (demo["sex"] == "male").sum() == 48
    # the adapter's male list agrees with the fixture's independent transcription
    assert sorted(MALE) == [str(1001 + i) for i, s in enumerate(SEX) if s == "M"]
    female = sorted(set(demo.index) - set(MALE))
    assert FOLDS == sex_balanced_folds(MALE, female)

    proto = CremaD.default_protocol
    df = CremaD.labelset.view().apply(prepared.manifest)
    folds = make_folds(df, proto["kind"], group=proto["group"], folds=proto["folds"])
    assert len(folds) == 5
    seen = []
    for f in folds:
        test_spk = set(df["speaker"].iloc[f.test])
        assert test_spk.isdisjoint(df["speaker"].iloc[np.concatenate([f.train, f.valid])])
        males = int((demo.loc[sorted(test_spk), "sex"] == "male").sum())
        assert males in (9, 10) and len(test_spk) - males in (8, 9)
        seen += sorted(test_spk)
    assert sorted(seen) == sorted(demo.index)
    # demographics join onto the manifest by speaker (there is no demographic column)
    joined = prepared.manifest.join(demo, on="speaker")
    assert joined["sex"].notna().all()


def test_partial_copy_is_reported(tmp_path):
    root = build_cremad(tmp_path / "c", actors=[1001, 1002], seconds=0.01)
    p = get_corpus("cremad").prepare(root)
    assert len(p.manifest) == 2 * (6 + 16)
    probs, warns = "\n".join(p.problems), "\n".join(p.warnings)
    assert "44 utterances, a complete copy has 7442" in probs
    # the per-emotion counts are not confirmed by a public source: a warning, not a refusal
    assert "label 'neutral': 4, expected 1087" in warns and "label '" not in probs


def test_not_a_cremad_root(tmp_path):
    with pytest.raises(CorpusError, match="no AudioWAV/ folder.*1001_DFA_ANG_XX.wav"):
        get_corpus("cremad").prepare(tmp_path)
    root = build_cremad(tmp_path / "c", actors=[1001], sentences=("DFA",), seconds=0.01)
    with pytest.raises(CorpusError, match="give its parent"):
        get_corpus("cremad").prepare(root / "AudioWAV")


@pytest.mark.parametrize("bad, why", [
    ("1001_DFA_ANG.wav", "not ACTOR_SENTENCE_EMOTION_LEVEL.wav"),
    ("1001_DFA_JOY_XX.wav", "emotion 'JOY'"),
    ("1092_DFA_ANG_XX.wav", "actor '1092' is not one of 1001–1091"),
    ("1001_XYZ_ANG_XX.wav", "sentence 'XYZ'"),
])
def test_bad_names(tmp_path, bad, why):
    root = build_cremad(tmp_path / "c", actors=[1001, 1002], sentences=("DFA",), seconds=0.01)
    shutil.copy(root / "AudioWAV" / "1001_DFA_ANG_XX.wav", root / "AudioWAV" / bad)
    with pytest.raises(CorpusError, match=re.escape(f"{bad}: not a valid CREMA-D file name: ") + ".*"
                       + re.escape(why)):
        get_corpus("cremad").prepare(root)
    p = get_corpus("cremad").prepare(root, on_error="skip")
    assert len(p.manifest) == 12 and [w for w, _ in p.issues.skipped] == [str(root / "AudioWAV" / bad)]


def test_header_only_wav_is_a_caveat(tmp_path):
    root = build_cremad(tmp_path / "c", actors=[1076], sentences=("MTI",), seconds=0.01)
    sf.write(root / "AudioWAV" / "1076_MTI_SAD_XX.wav", np.zeros(0, np.float32), 16000, subtype="PCM_16")
    p = get_corpus("cremad").prepare(root)
    assert any("1076_MTI_SAD_XX.wav" in c and "on_error" in c for c in p.caveats)


def test_end_to_end(tmp_path):
    import affectbench as ab

    root = build_cremad(tmp_path / "c", actors=[1001, 1002, 1003, 1004], sentences=("DFA", "TIE"),
                        seconds=0.3)
    res = ab.run(ab.load_spec(data={
        "name": "cremad-e2e", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "cremad", "root": str(root), "allow_partial": True},
        # the default folds need all 91 actors; the miniature copy has 4
        "protocol": {"kind": "folds", "group": "speaker", "folds": [["1001", "1002"], ["1003", "1004"]]},
        "features": {"extractors": ["egemaps"], "jobs": 1}, "metrics": {"bootstrap": 100}}))
    m = res.metrics
    assert len(m["folds"]) == 2 and m["n_skipped"] == 0
    assert m["pooled"]["n"] == 4 * 2 * 6 and 0.0 <= m["pooled"]["uar"] <= 1.0
    assert res.report.exists()
    assert isinstance(pd.read_parquet(res.folder / "predictions.parquet"), pd.DataFrame)
