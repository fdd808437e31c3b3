"""MELD adapter on a miniature copy in the native layout (tests/fixtures/meld_fixture.py)."""
from __future__ import annotations

import csv
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import affectbench as ab
from affectbench import audio
from affectbench.corpora import get_corpus
from affectbench.corpora.meld import fix_mojibake
from affectbench.errors import CorpusError, LabelError, MediaError
from affectbench.protocol import make_folds
from affectbench.video import load_audio_from_video
from fixtures import meld_fixture as fx

CANON = {"neutral": "neutral", "joy": "happy", "surprise": "surprise", "anger": "angry",
         "sadness": "sad", "disgust": "disgust", "fear": "fear"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return fx.build(tmp_path_factory.mktemp("meld"))


@pytest.fixture(scope="module")
def prepared(built):
    return ab.prepare("meld", built.root, on_error="skip")  # the copy lacks one clip


def test_counts_splits_labels_speakers(built, prepared):
    df = prepared.manifest
    assert Counter(df["split"]) == {"train": 20, "dev": 8, "test": 12}
    assert Counter(df["label"]) == Counter(CANON[r.emotion] for r in built.rows)
    assert set(df["speaker"]) == set(fx.SPEAKERS)
    r = df.set_index("id").loc["dev_dia1_utt2"]
    assert (r["dialogue"], r["turn"], r["split"]) == ("dev_dia1", 2, "dev")
    assert r["speaker"] == built.rows[[x.id for x in built.rows].index("dev_dia1_utt2")].speaker
    # sentiment is numeric: joy positive, anger negative, neutral 0
    sent = df.set_index("id")["sentiment"]
    assert sent["train_dia0_utt0"] == 0 and sent["train_dia0_utt1"] == 1 and sent["train_dia0_utt3"] == -1
    # dialogue order is kept: turns ascend inside each dialogue, dialogues in split order
    assert list(df["id"][:5]) == ["train_dia0_utt0", "train_dia0_utt1", "train_dia0_utt2",
                                  "train_dia0_utt3", "train_dia1_utt0"]
    assert all(list(g["turn"]) == sorted(g["turn"]) for _, g in df.groupby("dialogue"))
    # episode times are not offsets inside the clip
    assert df["start"].isna().all() and df["end"].isna().all()


def test_text_and_mojibake(built, prepared):
    text = prepared.manifest.set_index("id")["text"]
    for r in built.rows:
        assert text[r.id] == r.text, r.id
    assert "Oh, it’s you!" in set(text) and "The café is closed, I don’t care." in set(text)
    assert not any("â€" in t or "\x80" in t for t in text)
    assert text["train_dia1_utt2"] == "Two lines,\nin one cell."
    assert fix_mojibake("naïve café") == "naïve café" and fix_mojibake("itâ€™s") == "it’s"


def test_clips_missing_and_media(built, prepared):
    df = prepared.manifest.set_index("id")
    (gone,) = built.missing
    assert pd.isna(df.at[gone, "video"]) and pd.isna(df.at[gone, "audio"])
    assert df.at[gone, "text"]  # the text of a clip-less utterance stays usable
    assert [w for w, _ in prepared.issues.skipped] == [
        str(built.root / "train/train_splits/dia0_utt2.mp4")]
    assert any("1 of 20 utterances have no clip" in c for c in prepared.caveats)
    assert any("not speaker-independent" in c for c in prepared.caveats)
    r = df.loc["test_dia2_utt1"]
    assert r["video"] == r["audio"] and r["video"].endswith("test/output_repeated_splits_test/dia2_utt1.mp4")
    assert df.loc["dev_dia0_utt0", "video"].endswith("dev/dev_splits_complete/dia0_utt0.mp4")
    # under on_error='raise' the missing clip stops prepare, naming it
    with pytest.raises(CorpusError, match=r"(?s)1 MELD clip\(s\).*train_splits/dia0_utt2\.mp4.*on_error='skip'"):
        ab.prepare("meld", built.root)


def test_audio_from_mp4(built, prepared):
    df = prepared.manifest.set_index("id")
    x = audio.load(df.at["train_dia0_utt0", "audio"], 16000)  # AAC 44.1 kHz stereo inside mp4
    assert x.dtype == np.float32 and x.ndim == 1 and abs(len(x) - 8000) < 400 and np.abs(x).max() > 0.05
    part = load_audio_from_video(df.at["train_dia0_utt0", "audio"], 16000, 0.1, 0.3)
    assert len(part) == 3200
    (broken,) = built.corrupt
    with pytest.raises(MediaError, match="cannot decode audio from video"):
        audio.load(df.at[broken, "audio"])
    with pytest.raises(MediaError, match="file not found"):
        audio.load(built.root / "train/train_splits/dia0_utt2.mp4")


def test_text_only_copy_is_not_an_error(tmp_path):
    b = fx.write(tmp_path, fx.plan(), clips=False)
    p = ab.prepare("meld", b.root)
    assert len(p.manifest) == 40 and p.manifest["video"].isna().all()
    assert any("train: no clips in this copy (text only)" in c for c in p.caveats)


def test_view_and_unknown_label(prepared):
    view = get_corpus("meld").labelset.view()
    assert view.name == "seven"
    assert len(view.apply(prepared.manifest)) == 40
    bad = prepared.manifest.copy()
    bad.loc[0, "label"] = "other"
    with pytest.raises(LabelError, match="'other' is not known to view 'seven'"):
        view.apply(bad)


def test_official_fold(prepared):
    (fold,) = make_folds(prepared.manifest, "official", speaker_independent=False)
    ids = prepared.manifest["id"]
    assert len(fold.train) == 20 and len(fold.valid) == 8 and len(fold.test) == 12
    assert not set(ids.iloc[fold.test]) & set(ids.iloc[np.concatenate([fold.train, fold.valid])])
    assert not fold.speaker_independent and fold.test_speakers_seen_in_training > 0
    assert get_corpus("meld").default_protocol["kind"] == "official"


def test_bad_rows_name_file_and_line(tmp_path):
    b = fx.build(tmp_path, clips=False)
    path = b.root / "test_sent_emo.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    rows[3][3] = "rage"  # Emotion on line 4
    rows[6][5] = "x"  # Dialogue_ID on line 7
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    with pytest.raises(CorpusError, match=rf"{path}:4: malformed row \(emotion 'rage' is not one of"):
        ab.prepare("meld", b.root)
    p = ab.prepare("meld", b.root, on_error="skip")
    assert [w for w, _ in p.issues.skipped] == [f"{path}:4", f"{path}:7"]
    assert "Dialogue_ID 'x' is not an integer" in p.issues.skipped[1][1]
    assert len(p.manifest) == 38
    # a duplicated utterance is refused with both lines named
    dev = b.root / "dev_sent_emo.csv"
    rows = dev.read_text(encoding="utf-8-sig").rstrip("\n").split("\n")
    dev.write_text("\n".join(rows + [rows[1]]) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"dev_sent_emo.csv:10: .*dia0_utt0 already appears on line 2"):
        ab.prepare("meld", b.root, on_error="raise")


def test_not_a_meld_root_and_partial(tmp_path, built):
    with pytest.raises(CorpusError, match=r"not a MELD root.*train_sent_emo\.csv"):
        ab.prepare("meld", tmp_path)
    part = tmp_path / "part"
    part.mkdir()
    shutil.copy(built.root / "dev_sent_emo.csv", part)
    p = ab.prepare("meld", part)
    assert set(p.manifest["split"]) == {"dev"}
    problems = p.problems
    assert "split 'train': 0, expected 9989" in problems and "split 'dev': 8, expected 1109" in problems
    bad = tmp_path / "badhead"
    bad.mkdir()
    (bad / "train_sent_emo.csv").write_text("Sr No.,Text,Who\n1,hi,Joey\n")
    with pytest.raises(CorpusError, match=r"train_sent_emo.csv:1: header lacks \['Utterance'"):
        ab.prepare("meld", bad)


def test_end_to_end_tfidf(built, tmp_path):
    spec = ab.load_spec(data={
        "name": "meld-fixture", "output_dir": str(tmp_path),
        "corpus": {"name": "meld", "root": str(built.root), "on_error": "skip", "allow_partial": True},
        "features": {"extractors": ["tfidf"]}, "head": {"kind": "logreg"},
        "metrics": {"bootstrap": 20}})
    m = ab.run(spec).metrics
    assert len(m["folds"]) == 1 and m["pooled"]["n"] == 12
    assert {"war", "uar"} <= set(m["pooled"])
