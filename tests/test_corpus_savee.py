"""SAVEE adapter on both layouts users have (release AudioData/DC/a01.wav, Kaggle DC_a01.wav)."""
import affectbench as ab
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import savee_fixture


def test_release_and_flat_layouts_agree(tmp_path):
    check_attributes("savee")
    rel = ab.prepare("savee", savee_fixture.build(tmp_path / "r", video=("DC",)))
    flat = ab.prepare("savee", savee_fixture.build(tmp_path / "f", layout="flat"))
    assert len(rel.manifest) == len(flat.manifest) == 480 and rel.problems == flat.problems == [] == rel.warnings
    assert sorted(rel.manifest["id"]) == sorted(flat.manifest["id"])
    df = rel.manifest.set_index("id")
    assert df.loc["JK_sa03", "label"] == "sad" and df.loc["JK_su03", "label"] == "surprise"
    assert df.loc["DC_n30", "label"] == "neutral" and df.loc["DC_n30", "video"].endswith("AudioVisualClip/DC/n30.avi")
    assert df["video"].notna().sum() == 120
    fs = folds(rel)
    assert len(fs) == 4 and sorted(f.test_groups[0] for f in fs) == ["DC", "JE", "JK", "KL"]


def test_partial_and_bad_input(tmp_path):
    root = savee_fixture.build(tmp_path / "s", speakers=("DC", "JE"), per_emotion=1)
    check_partial(ab.prepare("savee", root), "16 utterances, a complete copy has 480", "speaker 'DC': 8, expected 120")
    check_wrong_root("savee", tmp_path, "AudioData/DC/a01.wav")
    good = root / "AudioData" / "DC" / "a01.wav"
    check_bad_file("savee", root, good, "x01.wav", "not <code><nn>.wav in a speaker folder")
    check_appledouble("savee", root)
