"""EmoV-DB adapter on both layouts (bea_Amused/… as OpenSLR extracts, bea/Amused/… sorted)."""
import affectbench as ab
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import emovdb_fixture


def test_layouts_labels_and_folds(tmp_path):
    check_attributes("emovdb")
    flat = ab.prepare("emovdb", emovdb_fixture.build(tmp_path / "f"))
    nested = ab.prepare("emovdb", emovdb_fixture.build(tmp_path / "n", layout="nested"))
    assert sorted(flat.manifest["id"]) == sorted(nested.manifest["id"]) and len(flat.manifest) == 36
    df = flat.manifest.set_index("id")
    assert df.loc["bea_disgust_disgust_1-28_0002", "label"] == "disgust"
    assert df.loc["sam_angry_anger_1-28_0001", "label"] == "angry"
    assert set(df.loc[df["speaker"] == "josh", "label"]) == {"amused", "neutral", "sleepy"}
    check_partial(flat, "36 utterances, a complete copy has 6887", None)
    assert len(folds(flat)) == 4


def test_bad_input(tmp_path):
    root = emovdb_fixture.build(tmp_path / "e")
    check_wrong_root("emovdb", tmp_path, "bea_Amused/amused_1-15_0001.wav")
    good = root / "bea_Amused" / "amused_1-28_0001.wav"
    check_bad_file("emovdb", root, good, "sleepy_1-28_0009.wav", "a 'sleepy' file in the amused folder")
    check_bad_file("emovdb", root, good, "amused_0009.wav", "not emotion_a-b_NNNN.wav")
    check_appledouble("emovdb", root)
