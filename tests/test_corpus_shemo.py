"""ShEMO adapter on copies in the native layout (female/F01A01.wav, male/…, shemo.json)."""
import json

import pytest

import affectbench as ab
from affectbench.errors import CorpusError
from corpus_a_checks import check_appledouble, check_attributes, check_bad_file, check_partial, check_wrong_root, folds
from fixtures import shemo_fixture


def test_prepare_transcripts_and_folds(tmp_path):
    check_attributes("shemo")
    p = ab.prepare("shemo", shemo_fixture.build(tmp_path / "s", n_female=5, n_male=5))
    df = p.manifest
    assert len(df) == 60 and df["speaker"].nunique() == 10 and df["text"].notna().all()
    assert df.set_index("id").loc["M03W01", "label"] == "surprise"
    check_partial(p, "60 utterances, a complete copy has 3000", "label 'fear': 10, expected 38")
    fs = folds(p)
    assert len(fs) == 5 and all(sorted(s[0] for s in set(df["speaker"].iloc[f.test])) == ["F", "M"] for f in fs)


def test_bad_input(tmp_path):
    root = shemo_fixture.build(tmp_path / "s", n_female=2, n_male=2)
    check_wrong_root("shemo", tmp_path, "female/F01A01.wav")
    check_bad_file("shemo", root, root / "female" / "F01A01.wav", "F01X01.wav", "not SNNENN.wav")
    check_bad_file("shemo", root, root / "female" / "F01A01.wav", "M09A01.wav", "a male speaker's file in female/")
    meta = json.loads((root / "shemo.json").read_text(encoding="utf-8"))
    meta["F01A01"]["emotion"] = "happiness"
    (root / "shemo.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CorpusError, match=r"shemo.json: F01A01: emotion 'happiness' disagrees"):
        ab.prepare("shemo", root)
    (root / "shemo.json").write_text('{"F01A01": {"emotion": "anger",\n  }', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"shemo.json:2: not valid JSON"):
        ab.prepare("shemo", root)
    (root / "shemo.json").unlink()
    check_appledouble("shemo", root)
