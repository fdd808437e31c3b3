"""EmoDB and GoEmotions read from ../shared/data exactly as distributed (skipped when absent)."""
import shutil

import numpy as np
import pytest

import affectbench as ab
from affectbench.errors import CorpusError
from affectbench.protocol import make_folds
from conftest import shared_data


def test_emodb_counts_speakers_and_folds():
    p = ab.prepare("emodb", shared_data("emodb"))
    df = p.manifest
    assert len(df) == 535
    assert sorted(df["speaker"].unique()) == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    letters = {"angry": 127, "boredom": 81, "neutral": 79, "happy": 71, "fear": 69, "sad": 62, "disgust": 46}
    assert df["label"].value_counts().to_dict() == letters
    assert p.problems == []
    assert any("cropped" in c for c in p.caveats)  # this copy is 2 s crops: reports must say so
    assert df.loc[df["id"] == "03a01Fa", "label"].item() == "happy"
    view = p.corpus.labelset.view("all").apply(df)
    folds = make_folds(view, "loso", valid_groups=1)
    assert len(folds) == 10
    spk = view["speaker"].to_numpy()
    for f in folds:
        assert len(set(spk[f.test])) == 1
        assert not set(spk[f.test]) & set(spk[np.concatenate([f.train, f.valid])])
    assert sum(len(f.test) for f in folds) == 535


def test_goemotions_split_and_labels():
    p = ab.prepare("goemotions", shared_data("goemotions"))
    df = p.manifest
    assert df["split"].value_counts().to_dict() == {"train": 43410, "dev": 5426, "test": 5427}
    assert len(p.corpus.labelset.view("all").classes) == 28
    assert {x for ls in df["labels"] for x in ls} == set(p.corpus.labelset.view("all").classes)
    assert p.problems == []
    ek = p.corpus.labelset.view("ekman").apply(df)
    assert len(ek) == len(df)  # every comment has at least one label, all map to an Ekman group
    assert set(x for ys in ek["y"] for x in ys) == {"anger", "disgust", "fear", "joy", "sadness",
                                                    "surprise", "neutral"}
    row = df[df["id"] == "eebbqej"].iloc[0]
    assert row["labels"] == ["neutral"] and row["split"] == "train"


def test_wrong_root_says_what_was_expected(tmp_path):
    (tmp_path / "stuff.txt").write_text("x")
    with pytest.raises(CorpusError, match=r"not an EmoDB root: no wav/ folder.*03a01Fa\.wav"):
        ab.prepare("emodb", tmp_path)
    with pytest.raises(CorpusError, match="not a GoEmotions root: no emotions.txt"):
        ab.prepare("goemotions", tmp_path)
    with pytest.raises(CorpusError, match="not a folder"):
        ab.prepare("emodb", tmp_path / "missing")


def test_stats_json_multilabel_view_counts_each_label():
    import json
    import os
    import subprocess
    import sys

    root = shared_data("goemotions")
    r = subprocess.run([sys.executable, "-m", "affectbench.cli", "corpora", "stats", "goemotions", str(root),
                        "--view", "ekman", "--json"], capture_output=True, text=True, env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["total"] == 54263 and st["split"] == {"dev": 5426, "test": 5427, "train": 43410}
    assert set(st["label"]) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert sum(st["label"].values()) > st["total"]  # multi-label: more labels than comments
    assert sum(row["test"] for row in st["label_by_split"].values()) >= 5427


def test_misnamed_file_raises_by_name_or_is_skipped_and_listed(tmp_path):
    src = shared_data("emodb") / "wav"
    (tmp_path / "wav").mkdir()
    for p in sorted(src.glob("03a0*.wav")):
        shutil.copy(p, tmp_path / "wav")
    shutil.copy(p, tmp_path / "wav" / "take7.wav")
    with pytest.raises(CorpusError, match=r"take7\.wav: name does not follow SSTTTEv\.wav.*on_error='skip'"):
        ab.prepare("emodb", tmp_path)
    p = ab.prepare("emodb", tmp_path, on_error="skip")
    assert p.issues.skipped == [(str(tmp_path / "wav" / "take7.wav"), "name does not follow SSTTTEv.wav")]
    assert "take7" not in set(p.manifest["id"])
