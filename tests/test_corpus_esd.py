"""ESD adapter on copies in the native layout (<spk>/<Emotion>/[train|evaluation|test/]…, <spk>/<spk>.txt)."""
import pytest

import affectbench as ab
from affectbench.corpora.esd import EMOBOX_FOLDS
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import esd_fixture


def test_prepare_split_text_and_emobox_folds(tmp_path):
    check_attributes("esd")
    p = ab.prepare("esd", esd_fixture.build(tmp_path / "e", speakers=[1, 12], per_emotion=51))
    df = p.manifest.set_index("id")
    assert len(df) == 2 * 5 * 51
    assert df["split"].value_counts().to_dict() == {"test": 300, "dev": 200, "train": 10}
    assert (df.loc["0001_000351", "label"], df.loc["0001_000351", "text"], df.loc["0001_000351", "language"]) == (
        "angry", "句子 1", "zh")
    assert (df.loc["0012_001401", "label"], df.loc["0012_001401", "language"]) == ("surprise", "en")
    check_partial(p, "510 utterances, a complete copy has 35000", "speaker '0001': 255, expected 1750")
    assert sorted(s for f in EMOBOX_FOLDS for s in f) == [f"{i:04d}" for i in range(1, 21)]
    every = ab.prepare("esd", esd_fixture.build(tmp_path / "all", per_emotion=1))  # the folds need all 20
    assert [sorted(set(every.manifest["speaker"].iloc[f.test])) for f in folds(every)] == EMOBOX_FOLDS


def test_bad_input(tmp_path):
    root = esd_fixture.build(tmp_path / "e", speakers=[1, 11], per_emotion=2, subfolders=False, nest=None)
    p = ab.prepare("esd", root)
    assert p.manifest["split"].isna().all() and any("no train/ evaluation/ test/" in c for c in p.caveats)
    check_wrong_root("esd", tmp_path, "0001/ … 0020/")
    good = root / "0011" / "Angry" / "0011_000351.wav"
    check_bad_file("esd", root, good, "0011_000001.wav", "utterance 1 is not a Angry number")
    check_bad_file("esd", root, good, "0012_000352.wav", "file name is not 0011_<6 digits>.wav")
    txt = root / "0011" / "0011.txt"
    lines = txt.read_text(encoding="utf-8").splitlines()
    txt.write_text("\n".join(lines[:2] + ["0011_000003 no tabs here"] + lines[2:]) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"0011\.txt:3: malformed line"):
        ab.prepare("esd", root)
    txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check_appledouble("esd", root)
