"""SUBESCO adapter on copies in the native layout (F_01_OISHI_S_1_ANGRY_1.wav)."""
import affectbench as ab
from affectbench.corpora.subesco import fold_of
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import subesco_fixture


def test_prepare_and_sex_balanced_folds(tmp_path):
    check_attributes("subesco")
    p = ab.prepare("subesco", subesco_fixture.build(tmp_path / "s", sentences=1, takes=1))
    df = p.manifest
    assert len(df) == 20 * 7 and df["speaker"].nunique() == 20
    check_partial(p, "140 utterances, a complete copy has 7000", "label 'angry': 20, expected 1000")
    fs = folds(p)
    assert len(fs) == 5
    for f in fs:
        test = sorted(set(df["speaker"].iloc[f.test]))
        assert [s[0] for s in test] == ["F", "F", "M", "M"]  # 2 women and 2 men per fold
    assert fold_of(1) == fold_of(6) == "fold1" and fold_of(10) == "fold5"


def test_bad_input(tmp_path):
    root = subesco_fixture.build(tmp_path / "s", speakers=[("F", 1), ("M", 2)], sentences=1, takes=1)
    check_wrong_root("subesco", tmp_path, "F_01_OISHI_S_1_ANGRY_1.wav")
    good = root / "SUBESCO" / "F_01_OISHI_S_1_ANGRY_1.wav"
    check_bad_file("subesco", root, good, "F_01_OISHI_S_1_JOY_1.wav", "emotion 'JOY'")
    check_bad_file("subesco", root, good, "F_11_OISHI_S_1_ANGRY_1.wav", "out of range")
    check_appledouble("subesco", root)
