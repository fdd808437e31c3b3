"""RAVDESS adapter on miniature copies in the native layout."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from affectbench.corpora import get_corpus
from affectbench.corpora.ravdess import EMOBOX_FOLDS, RAVDESS
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds
from fixtures.ravdess_fixture import build_ravdess


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """All 24 actors, speech + song audio, AV/video-only mp4 for actors 1 and 2."""
    return build_ravdess(tmp_path_factory.mktemp("ravdess_full"), song=True, video_actors=(1, 2),
                         seconds=0.02)


@pytest.fixture(scope="module")
def prepared(full):
    return get_corpus("ravdess").prepare(full)


def test_complete_copy_counts(prepared):
    df = prepared.manifest
    assert prepared.problems == []
    assert len(df) == 1440
    assert df["label"].value_counts().to_dict() == {
        "neutral": 96, "calm": 192, "happy": 192, "sad": 192, "angry": 192, "fear": 192,
        "disgust": 192, "surprise": 192}
    assert sorted(df["speaker"].unique()) == [f"{a:02d}" for a in range(1, 25)]
    assert (df["speaker"] == df["session"]).all()
    assert set(df["dialogue"]) == {"01", "02"}
    assert set(df["text"]) == {"Kids are talking by the door", "Dogs are sitting by the door"}
    # song is left out by default; every speech take has its audio-only wav
    assert not df["id"].str.startswith("02-").any()
    assert df["audio"].notna().all()


def test_take_pairing_and_ids(prepared):
    df = prepared.manifest.set_index("id")
    row = df.loc["01-06-02-01-02-02"]  # speech, fearful, strong, statement 1, rep 2, actor 02
    assert row["label"] == "fear" and row["speaker"] == "02"
    assert row["audio"].endswith("Actor_02/03-01-06-02-01-02-02.wav")
    assert row["video"].endswith("Actor_02/01-01-06-02-01-02-02.mp4")  # AV preferred over video-only
    assert df["video"].notna().sum() == 120  # actors 1 and 2 only
    assert pd.isna(df.loc["01-03-01-01-01-05", "video"])


def test_video_only_copy(tmp_path):
    root = build_ravdess(tmp_path, actors=[1, 2], emotions=[1, 5], audio=False, video_actors=(1, 2))
    (root / "Actor_01" / "01-01-05-02-02-01-01.mp4").unlink()  # no AV file: the video-only one is used
    p = get_corpus("ravdess").prepare(root)
    df = p.manifest.set_index("id")
    assert len(df) == 24 and df["audio"].isna().all() and df["video"].notna().all()
    assert df.loc["01-05-02-02-01-01", "video"].endswith("02-01-05-02-02-01-01.mp4")
    assert any("24 of 24 takes have video but no audio-only" in c for c in p.caveats)


def test_stereo_48k_decodes_to_mono_16k(prepared):
    from affectbench.audio import load

    stereo = [p for p in prepared.manifest["audio"].head(20) if sf.info(p).channels == 2]
    assert stereo and sf.info(stereo[0]).samplerate == 48000
    x = load(stereo[0], 16000)
    assert x.ndim == 1 and abs(len(x) - 0.02 * 16000) <= 1


def test_song_option(full):
    p = RAVDESS(include_song=True).prepare(full)
    df = p.manifest
    assert len(df) == 2452 and p.problems == []
    song = df[df["id"].str.startswith("02-")]
    assert len(song) == 1012 and "18" not in set(song["speaker"])
    assert not {"disgust", "surprise"} & set(song["label"])
    assert any("song" in c for c in p.caveats)


def test_views(prepared):
    ls = RAVDESS.labelset
    assert ls.view().name == "all" and len(ls.view("all").classes) == 8
    seven = ls.view("seven").apply(prepared.manifest)
    assert len(seven) == 1248 and "calm" not in set(seven["y"])
    assert len(ls.view("four").apply(prepared.manifest)) == 672


def test_default_folds_are_emobox_and_speaker_disjoint(prepared):
    proto = RAVDESS.default_protocol
    assert proto["kind"] == "folds" and proto["folds"] == EMOBOX_FOLDS
    df = RAVDESS.labelset.view().apply(prepared.manifest)
    folds = make_folds(df, proto["kind"], group=proto["group"], folds=proto["folds"])
    assert len(folds) == 6
    tested = []
    for f in folds:
        test_spk = set(df["speaker"].iloc[f.test])
        assert test_spk.isdisjoint(df["speaker"].iloc[np.concatenate([f.train, f.valid])])
        assert f.test_speakers_seen_in_training == 0 and len(test_spk) == 4
        tested += sorted(test_spk)
    assert sorted(tested) == [f"{a:02d}" for a in range(1, 25)]
    assert len(make_folds(df, "loso")) == 24


def test_partial_copy_is_reported(tmp_path):
    root = build_ravdess(tmp_path / "r", actors=[1, 2, 3], emotions=[1, 5], seconds=0.01,
                         nest="Audio_Speech_Actors_01-24")
    p = get_corpus("ravdess").prepare(root)
    assert len(p.manifest) == 3 * (4 + 8)
    probs = "\n".join(p.problems)
    assert "36 utterances, a complete copy has 1440" in probs
    assert "speaker '24': 0, expected 60" in probs and "label 'calm': 0, expected 192" in probs


def test_not_a_ravdess_root(tmp_path):
    (tmp_path / "wav").mkdir()
    with pytest.raises(CorpusError, match="no Actor_NN folders.*Actor_01"):
        get_corpus("ravdess").prepare(tmp_path)
    (tmp_path / "Actor_01").mkdir()
    with pytest.raises(CorpusError, match="no RAVDESS speech files"):
        get_corpus("ravdess").prepare(tmp_path)


@pytest.mark.parametrize("bad, why", [
    ("03-01-09-01-01-01-01.wav", "emotion '09'"),
    ("03-01-05-01-01-01-02.wav", "actor 02 in the name, but the file is in Actor_01"),
    ("01-01-05-01-01-01-01.wav", "should be a .mp4"),
    ("angry_take1.wav", "seven two-digit fields"),
])
def test_bad_names(tmp_path, bad, why):
    root = build_ravdess(tmp_path / "r", actors=[1, 2], emotions=[1, 5], seconds=0.01)
    shutil.copy(next((root / "Actor_01").glob("*.wav")), root / "Actor_01" / bad)
    (root / "Actor_01" / ".DS_Store").write_bytes(b"x")  # not media: ignored
    with pytest.raises(CorpusError, match=re.escape(f"{bad}: not a valid RAVDESS file name: ") + ".*"
                       + re.escape(why)):
        get_corpus("ravdess").prepare(root)
    p = get_corpus("ravdess").prepare(root, on_error="skip")
    assert len(p.manifest) == 2 * (4 + 8)
    assert [w for w, _ in p.issues.skipped] == [str(root / "Actor_01" / bad)]


def test_duplicate_takes(tmp_path):
    # the speech zip extracted twice: once into the root, once into its own folder
    build_ravdess(tmp_path, actors=[1, 2], emotions=[1, 5], seconds=0.01)
    build_ravdess(tmp_path, actors=[2], emotions=[5], seconds=0.01, nest="Audio_Speech_Actors_01-24")
    with pytest.raises(CorpusError, match="a second audio-only file of take 01-05-01-01-01-02 .*the first is"):
        get_corpus("ravdess").prepare(tmp_path)
    p = get_corpus("ravdess").prepare(tmp_path, on_error="skip")
    assert len(p.manifest) == 2 * (4 + 8) and len(p.issues.skipped) == 8
    assert p.manifest["audio"].str.contains("Audio_Speech_Actors").sum() == 0  # root level read first


def test_end_to_end(tmp_path):
    import affectbench as ab

    root = build_ravdess(tmp_path / "r", actors=[1, 2, 3, 4], intensities=(1,), statements=(1,),
                         repetitions=(1, 2), seconds=0.3)
    res = ab.run(ab.load_spec(data={
        "name": "ravdess-e2e", "output_dir": str(tmp_path / "runs"),
        "corpus": {"name": "ravdess", "root": str(root), "allow_partial": True},
        # the EmoBox folds need all 24 actors; the miniature copy has 4
        "protocol": {"kind": "folds", "group": "speaker", "folds": [["01", "02"], ["03", "04"]]},
        "features": {"extractors": ["egemaps"], "jobs": 1}, "metrics": {"bootstrap": 100}}))
    m = res.metrics
    assert len(m["folds"]) == 2 and m["n_skipped"] == 0
    assert m["pooled"]["n"] == 4 * 8 * 2 and 0.0 <= m["pooled"]["uar"] <= 1.0
    assert res.report.exists()
