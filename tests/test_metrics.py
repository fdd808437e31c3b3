import audmetric
import numpy as np
from sklearn.metrics import f1_score

from affectbench import metrics as M


def test_single_label_metrics_match_audmetric_and_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    m = M.classification(y, p, ["a", "b", "c", "d"], n_boot=500)
    assert np.isclose(m["war"], audmetric.accuracy(y, p))
    assert np.isclose(m["uar"], audmetric.unweighted_average_recall(y, p))
    assert np.isclose(m["macro_f1"], f1_score(y, p, average="macro"))
    assert np.isclose(m["weighted_f1"], f1_score(y, p, average="weighted"))
    for k in ("war", "uar", "macro_f1"):
        lo, hi = m["ci"][k]
        assert lo < m[k] < hi and hi - lo < 0.2
    assert np.asarray(m["confusion"]).sum() == 300
    rec_a = np.mean(p[y == 0] == 0)
    assert np.isclose(m["per_class_recall"]["a"], rec_a)


def test_uar_ignores_classes_absent_from_truth():
    y = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 1])
    m = M.classification(y, p, ["a", "b", "c"], n_boot=0)
    assert np.isclose(m["uar"], (0.5 + 1.0) / 2)
    assert m["per_class_recall"]["c"] is None


def test_multilabel_macro_f1_matches_sklearn():
    rng = np.random.default_rng(1)
    Y = rng.random((400, 6)) < 0.2
    P = np.where(rng.random((400, 6)) < 0.7, Y, ~Y)
    m = M.multilabel(Y, P, list("abcdef"), n_boot=300)
    assert np.isclose(m["macro_f1"], f1_score(Y, P, average="macro", zero_division=0))
    assert np.isclose(m["micro_f1"], f1_score(Y, P, average="micro", zero_division=0))
    assert np.isclose(m["samples_f1"], f1_score(Y, P, average="samples", zero_division=1))
    lo, hi = m["ci"]["macro_f1"]
    assert lo < m["macro_f1"] < hi


def test_regression_ccc_matches_audmetric():
    rng = np.random.default_rng(2)
    y = rng.normal(3, 1, (200, 2))
    p = 0.7 * y + rng.normal(0, 0.5, (200, 2)) + 0.3
    m = M.regression(y, p, ["valence", "arousal"], n_boot=300)
    for j, t in enumerate(["valence", "arousal"]):
        assert np.isclose(m["per_target"][t]["ccc"], audmetric.concordance_cc(y[:, j], p[:, j]))
        assert np.isclose(m["per_target"][t]["pearson"], np.corrcoef(y[:, j], p[:, j])[0, 1])
    lo, hi = m["ci"]["ccc"]
    assert lo < m["ccc"] < hi
