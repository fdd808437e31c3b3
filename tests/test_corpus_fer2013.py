"""FER2013 adapter on a fer2013.csv in the Kaggle layout; pixels decoded to cached PNGs."""
import numpy as np
import pytest
from PIL import Image

import affectbench as ab
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_partial, check_wrong_root, folds
from fixtures import fer2013_fixture


def test_prepare_decodes_once_and_official_split(tmp_path):
    check_attributes("fer2013")
    root = fer2013_fixture.build(tmp_path / "f")
    p = ab.prepare("fer2013", root)
    df = p.manifest
    assert len(df) == 63 and df["split"].value_counts().to_dict() == {"train": 21, "dev": 21, "test": 21}
    img = np.asarray(Image.open(df["image"].iloc[0]))
    assert img.shape == (48, 48) and img.dtype == np.uint8
    code = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral").index(df["label"].iloc[0])
    assert img[0, 1] == (7 + 31 * code) % 256  # row-major decoding of the face the fixture wrote
    check_partial(p, "split 'train': 21, expected 28709", None)
    stamp = {q: q.stat().st_mtime_ns for q in map(__import__("pathlib").Path, df["image"])}
    again = ab.prepare("fer2013", root)  # the same CSV: nothing rewritten
    assert list(again.manifest["image"]) == list(df["image"])
    assert all(q.stat().st_mtime_ns == t for q, t in stamp.items())
    f, = folds(p)
    assert not f.speaker_independent and (len(f.train), len(f.valid), len(f.test)) == (21, 21, 21)


def test_bad_input(tmp_path):
    check_wrong_root("fer2013", tmp_path, "fer2013.csv")
    root = fer2013_fixture.build(tmp_path / "f")
    path = root / "fer2013.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    for bad, why in ((lines[3].replace('",', ' 7",', 1), "2305 values"), ("9" + lines[3][1:], "emotion '9'"),
                     (lines[3].rsplit(",", 1)[0] + ",Validation", "Usage 'Validation'")):
        path.write_text("\n".join(lines[:3] + [bad] + lines[4:]) + "\n", encoding="utf-8")
        with pytest.raises(CorpusError, match=rf"fer2013.csv:4: malformed row \(.*{why}"):
            ab.prepare("fer2013", root)
    skipped = ab.prepare("fer2013", root, on_error="skip")
    assert len(skipped.manifest) == 62 and skipped.issues.skipped[0][0].endswith("fer2013.csv:4")
    with pytest.raises(CorpusError, match="fer2013.csv:4"):  # the cached decode remembers the bad row
        ab.prepare("fer2013", root)
    check_appledouble("fer2013", fer2013_fixture.build(tmp_path / "mac"))
