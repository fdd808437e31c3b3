"""Classification metrics with bootstrap confidence intervals.

Names follow audmetric: ``war`` is audmetric's ``accuracy``, ``uar`` its
``unweighted_average_recall`` (= scikit-learn balanced accuracy); WAR and UAR
are always reported together. Bootstrap CIs (percentile method, vectorised
over all resamples at once) resample utterances, or, given ``groups``, whole
clusters (speakers, sessions, dialogues): the utterances of one speaker are not
independent, and a speaker-independent result generalises over speakers, so
its interval must come from resampling speakers. Every result says which
(``ci_unit``).

Class convention: UAR and macro-F1 average over the classes of the label view
that occur in the truth being scored (scikit-learn's balanced accuracy); a
class absent from a fold's truth is left out of that fold's average, and the
fold says so in ``classes_absent``.
"""
from __future__ import annotations

import numpy as np

#: our key -> audmetric function name
AUDMETRIC_NAMES = {
    "war": "accuracy",
    "uar": "unweighted_average_recall",
    "macro_f1": "unweighted_average_fscore",
    "weighted_f1": "weighted_average_fscore",
    "ccc": "concordance_cc",
    "pearson": "pearson_cc",
    "mae": "mean_absolute_error",
}
SINGLE = ("war", "uar", "macro_f1", "weighted_f1")
MULTI = ("macro_f1", "micro_f1", "samples_f1", "exact_match")


def _multiplicities(n: int, groups, n_boot: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(W, cluster index): how often each cluster is drawn in each resample, (n_boot, G).

    Without groups every utterance is its own cluster.
    """
    if groups is None:
        inv, G = np.arange(n), n
    else:
        _, inv = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
        G = int(inv.max()) + 1 if n else 0
    draws = rng.integers(0, G, size=(n_boot, G))
    W = np.zeros((n_boot, G))
    np.add.at(W, (np.arange(n_boot)[:, None], draws), 1.0)
    return W, inv


def _ci_fields(boot: dict, ci: float, n_boot: int, groups) -> dict:
    lo, hi = (1 - ci) / 2 * 100, (1 + ci) / 2 * 100
    unit = "utterance" if groups is None else "cluster"
    out = {"ci": {m: [float(np.nanpercentile(v, lo)), float(np.nanpercentile(v, hi))] for m, v in boot.items()},
           "ci_level": ci, "n_boot": n_boot, "ci_unit": unit}
    if groups is not None:
        out["n_clusters"] = int(len(set(np.asarray(groups, dtype=str))))
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def _from_confusions(C: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics from a stack of confusion matrices (..., K, K); rows = true class.

    Classes absent from the truth are left out of UAR/macro-F1 (as scikit-learn's
    balanced accuracy does), so a fold that lacks a class is not penalised for it.
    """
    C = C.astype(np.float64)
    tp = np.diagonal(C, axis1=-2, axis2=-1)
    support = C.sum(-1)
    predicted = C.sum(-2)
    n = support.sum(-1)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, tp / np.maximum(support, 1), 0.0)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
        npresent = present.sum(-1)
        return {
            "war": tp.sum(-1) / n,
            "uar": (recall * present).sum(-1) / npresent,
            "macro_f1": (f1 * present).sum(-1) / npresent,
            "weighted_f1": (f1 * support).sum(-1) / n,
        }


def classification(y_true, y_pred, classes: list[str], *, n_boot: int = 1000, ci: float = 0.95,
                   seed: int = 0, groups=None) -> dict:
    """WAR, UAR, macro/weighted F1, per-class recall and confusion matrix, with bootstrap CIs
    (over ``groups`` when given, else over utterances)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(classes)
    C = confusion(y_true, y_pred, k)
    point = {m: float(v) for m, v in _from_confusions(C).items()}
    support = C.sum(1)
    out = {**point,
           "n": int(len(y_true)),
           "per_class_recall": {c: (float(C[i, i] / support[i]) if support[i] else None)
                                for i, c in enumerate(classes)},
           "support": {c: int(s) for c, s in zip(classes, support)},
           "confusion": C.tolist(),
           "classes": list(classes)}
    out["classes_absent"] = [c for c, n in zip(classes, support) if n == 0]
    if n_boot and len(y_true) > 1 and (groups is None or len(set(np.asarray(groups, str))) > 1):
        rng = np.random.default_rng(seed)
        W, inv = _multiplicities(len(y_true), groups, n_boot, rng)
        # one confusion matrix per cluster; a resample's matrix is their weighted sum
        per = np.zeros((W.shape[1], k * k))
        np.add.at(per, (inv, y_true * k + y_pred), 1.0)
        boot = _from_confusions((W @ per).reshape(n_boot, k, k))
        out.update(_ci_fields(boot, ci, n_boot, groups))
    return out


def _multi_from_counts(tp, fp, fn, exact, samples_f1, n):
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        return {
            "macro_f1": f1.mean(-1),
            "micro_f1": 2 * tp.sum(-1) / np.maximum((2 * tp + fp + fn).sum(-1), 1),
            "samples_f1": samples_f1 / n,
            "exact_match": exact / n,
        }


def multilabel(Y: np.ndarray, P: np.ndarray, classes: list[str], *, n_boot: int = 1000,
               ci: float = 0.95, seed: int = 0, groups=None) -> dict:
    """Multi-label macro/micro/sample F1 and exact match (Y, P: n × K in {0,1}), with bootstrap CIs."""
    Y = np.asarray(Y, dtype=bool)
    P = np.asarray(P, dtype=bool)
    n = len(Y)
    TP = (Y & P).astype(np.float64)
    FP = (~Y & P).astype(np.float64)
    FN = (Y & ~P).astype(np.float64)
    exact = (Y == P).all(1).astype(np.float64)
    denom = Y.sum(1) + P.sum(1)
    sf1 = np.where(denom > 0, 2 * TP.sum(1) / np.maximum(denom, 1), 1.0)
    point = _multi_from_counts(TP.sum(0), FP.sum(0), FN.sum(0), exact.sum(), sf1.sum(), n)
    tp, fp, fn = TP.sum(0), FP.sum(0), FN.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1c = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
    out = {m: float(v) for m, v in point.items()}
    out.update({"n": int(n), "classes": list(classes),
                "per_class_f1": {c: float(v) for c, v in zip(classes, f1c)},
                "support": {c: int(v) for c, v in zip(classes, Y.sum(0))}})
    if n_boot and n > 1:
        rng = np.random.default_rng(seed)
        Wc, inv = _multiplicities(n, groups, n_boot, rng)
        G = Wc.shape[1]

        def per(a):  # sums per cluster
            a = a.reshape(n, -1)
            out_ = np.zeros((G, a.shape[1]))
            np.add.at(out_, inv, a)
            return out_

        nb = (Wc @ per(np.ones(n)))[:, 0]
        boot = _multi_from_counts(Wc @ per(TP), Wc @ per(FP), Wc @ per(FN), (Wc @ per(exact))[:, 0],
                                  (Wc @ per(sf1))[:, 0], nb)
        out.update(_ci_fields(boot, ci, n_boot, groups))
    return out


REGRESSION = ("ccc", "pearson", "mae")


def _ccc_pearson(y, p):
    """Concordance correlation (audmetric concordance_cc) and Pearson r, column-wise."""
    my, mp = y.mean(0), p.mean(0)
    vy, vp = y.var(0), p.var(0)
    cov = ((y - my) * (p - mp)).mean(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ccc = 2 * cov / (vy + vp + (my - mp) ** 2)
        r = cov / np.sqrt(vy * vp)
    return ccc, r


def regression(Y: np.ndarray, P: np.ndarray, targets: list[str], *, n_boot: int = 1000,
               ci: float = 0.95, seed: int = 0, groups=None) -> dict:
    """CCC, Pearson r and MAE per target (and their means), with bootstrap CIs."""
    Y = np.asarray(Y, np.float64).reshape(len(Y), -1)
    P = np.asarray(P, np.float64).reshape(len(P), -1)
    ccc, r = _ccc_pearson(Y, P)
    mae = np.abs(Y - P).mean(0)
    out = {"ccc": float(np.mean(ccc)), "pearson": float(np.mean(r)), "mae": float(np.mean(mae)),
           "n": int(len(Y)), "classes": list(targets),
           "per_target": {t: {"ccc": float(c), "pearson": float(rr), "mae": float(m)}
                          for t, c, rr, m in zip(targets, ccc, r, mae)}}
    if n_boot and len(Y) > 2:
        rng = np.random.default_rng(seed)
        Wc, inv = _multiplicities(len(Y), groups, n_boot, rng)
        G = Wc.shape[1]

        def wsum(a):  # per-resample weighted sums, through per-cluster sums
            c = np.zeros((G, a.shape[1]))
            np.add.at(c, inv, a)
            return Wc @ c

        nw = wsum(np.ones((len(Y), 1)))
        my, mp = wsum(Y) / nw, wsum(P) / nw
        vy = wsum(Y * Y) / nw - my ** 2
        vp = wsum(P * P) / nw - mp ** 2
        cov = wsum(Y * P) / nw - my * mp
        with np.errstate(invalid="ignore", divide="ignore"):
            bc = (2 * cov / (vy + vp + (my - mp) ** 2)).mean(1)
            br = (cov / np.sqrt(vy * vp)).mean(1)
        bm = (wsum(np.abs(Y - P)) / nw).mean(1)
        out.update(_ci_fields({"ccc": bc, "pearson": br, "mae": bm}, ci, n_boot, groups))
    return out
