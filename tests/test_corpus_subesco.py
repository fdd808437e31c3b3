"""SUBESCO adapter on copies in the native layout (F_01_OISHI_S_1_ANGRY_1.wav)."""
import affectbench as ab
from affectbench.corpora.subesco import EMOBOX_FOLDS, SPEAKERS
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import subesco_fixture


def test_prepare_and_emobox_folds(tmp_path):
    check_attributes("subesco")
    p = ab.prepare("subesco", subesco_fixture.build(tmp_path / "s", sentences=1, takes=1))
    df = p.manifest
    assert len(df) == 20 * 7 and df["speaker"].nunique() == 20
    check_partial(p, "140 utterances, a complete copy has 7000", "label 'angry': 20, expected 1000")
    assert sorted(s for f in EMOBOX_FOLDS for s in f) == SPEAKERS  # a partition of the 20 speakers
    fs = folds(p)
    assert [sorted(set(df["speaker"].iloc[f.test])) for f in fs] == EMOBOX_FOLDS


def test_bad_input(tmp_path):
    root = subesco_fixture.build(tmp_path / "s", speakers=[("F", 1), ("M", 2)], sentences=1, takes=1)
    check_wrong_root("subesco", tmp_path, "F_01_OISHI_S_1_ANGRY_1.wav")
    good = root / "SUBESCO" / "F_01_OISHI_S_1_ANGRY_1.wav"
    check_bad_file("subesco", root, good, "F_01_OISHI_S_1_JOY_1.wav", "emotion 'JOY'")
    check_bad_file("subesco", root, good, "F_11_OISHI_S_1_ANGRY_1.wav", "out of range")
    check_appledouble("subesco", root)
