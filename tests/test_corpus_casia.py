"""CASIA adapter on copies in the native layout (<speaker>/<emotion>/<nnn>.wav)."""
import affectbench as ab
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import casia_fixture


def test_complete_copy_and_folds(tmp_path):
    check_attributes("casia")
    p = ab.prepare("casia", casia_fixture.build(tmp_path / "c"))
    assert len(p.manifest) == 1200 and p.problems == [] == p.warnings
    row = p.manifest.set_index("id").loc["ZhaoZuoxiang_surprise_250"]
    assert (row["speaker"], row["label"], row["dialogue"], row["language"]) == ("ZhaoZuoxiang", "surprise", "250", "zh")
    assert len(folds(p)) == 4


def test_partial_and_bad_input(tmp_path):
    root = casia_fixture.build(tmp_path / "c", speakers=("wangzhe", "liuchanhg"), sentences=2)
    check_partial(ab.prepare("casia", root), "24 utterances, a complete copy has 1200", "speaker 'wangzhe': 12, expected 300")
    check_wrong_root("casia", tmp_path, "liuchanhg")
    good = root / "CASIA" / "wangzhe" / "angry" / "201.wav"
    check_bad_file("casia", root, good, "201a.wav", "not a sentence number")
    (root / "CASIA" / "wangzhe" / "joyful").mkdir()
    check_bad_file("casia", root, good, "../joyful/201.wav", "emotion folder 'joyful'")
    check_appledouble("casia", root)
