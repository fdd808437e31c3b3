"""CMU-MOSEI adapter on miniature SDK downloads (HDF5 .csd labels, raw audio, segmented transcripts)."""
import json

import h5py
import numpy as np
import pytest

import affectbench as ab
from affectbench.corpora.cmu_mosei import standard_folds
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_partial, check_wrong_root, folds
from fixtures import cmu_mosei_fixture


def test_prepare_segments_labels_and_standard_folds(tmp_path):
    check_attributes("cmu_mosei")
    split = standard_folds()
    assert len(split) == 3228 and sorted(map(list(split.values()).count, ("train", "dev", "test"))) == [300, 678, 2250]
    root = cmu_mosei_fixture.build(tmp_path / "m")
    p = ab.prepare("cmu_mosei", root)
    df = p.manifest
    assert len(df) == 12 and df["split"].value_counts().to_dict() == {"train": 6, "dev": 3, "test": 3}
    vid = df["dialogue"].iloc[0]
    with h5py.File(root / "CMU_MOSEI_Labels.csd") as h:
        x = h["All Labels/data"][vid]["features"][()]
    row = df.set_index("id").loc[f"{vid}_1"]
    assert row["sentiment"] == pytest.approx(x[1, 0]) and (row["start"], row["end"]) == (5.0, 8.5)
    assert row["labels"] == [e for e, v in zip(("happy", "sad", "angry", "surprise", "disgust", "fear"), x[1, 1:]) if v > 0]
    assert json.loads(row["meta"])["intensity"]["happy"] == pytest.approx(x[1, 1])
    assert row["text"] == "words of segment 1" and row["audio"].endswith(f"WAV_16000/{vid}.wav")
    check_partial(p, None, "12 utterances, a complete copy has 23453")
    f, = folds(p, "sentiment")
    assert not f.speaker_independent and (len(f.train), len(f.valid), len(f.test)) == (6, 3, 3)
    pair = ab.prepare("cmu_mosei", cmu_mosei_fixture.build(tmp_path / "pair", split_files=True))
    assert pair.manifest["sentiment"].tolist() == df["sentiment"].tolist()


def test_bad_input(tmp_path):
    check_wrong_root("cmu_mosei", tmp_path, "CMU_MOSEI_Labels.csd")
    root = cmu_mosei_fixture.build(tmp_path / "m")
    vid = cmu_mosei_fixture.sdk_videos()["train"][0]
    txt = root / "Raw/Transcript/Segmented/Combined" / f"{vid}.txt"
    good = txt.read_text(encoding="utf-8")
    txt.write_text(good + "garbage line\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=rf"{vid}\.txt:4: malformed line"):
        ab.prepare("cmu_mosei", root)
    txt.write_text(good, encoding="utf-8")
    with h5py.File(root / "CMU_MOSEI_Labels.csd", "a") as h:
        g = h["All Labels/data"][vid]
        del g["features"]
        g.create_dataset("features", data=np.zeros((3, 5)))
    with pytest.raises(CorpusError, match=rf"CMU_MOSEI_Labels.csd: video '{vid}': features \(3, 5\)"):
        ab.prepare("cmu_mosei", root)
    (root / "CMU_MOSEI_Labels.csd").write_bytes(b"not hdf5")
    with pytest.raises(CorpusError, match="not a readable HDF5"):
        ab.prepare("cmu_mosei", root)
    check_appledouble("cmu_mosei", cmu_mosei_fixture.build(tmp_path / "m2"))
