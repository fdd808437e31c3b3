"""Paired statistics for saying whether two systems differ on the same test items.

Pure functions of labels, predictions and groups (no run folders here). Each one is
checked in ``tests/test_stats.py`` against a reference implementation (scipy,
statsmodels) or a worked example from the literature, because a significance test that
is subtly wrong is worse than none.

- :func:`paired_bootstrap`: differences of WAR/UAR/F1 with percentile CIs. All systems
  share the same resamples, which is what makes the difference *paired*. Resampling is by
  cluster (speaker, dialogue) when a protocol is speaker independent, since utterances of
  one speaker are not independent draws; otherwise by utterance, like the run's own CIs.
- :func:`mcnemar_exact`: the exact binomial test on discordant pairs, for accuracy.
- :func:`approximate_randomisation`: a paired permutation test (Noreen 1989; Yeh 2000)
  for metrics that are not sums over items (UAR, macro-F1), where McNemar does not apply.
- :func:`holm`: step-down family-wise correction when more than two systems are compared.
- :func:`friedman` and :func:`nemenyi_cd`: ranking systems over several corpora
  (Demšar 2006), and :func:`plot_cd` draws the critical-difference diagram.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SINGLE = ("war", "uar", "macro_f1", "weighted_f1")

#: Demšar (2006), Table 5(a): two-tailed Nemenyi q_0.05 for k = 2..10 classifiers
#: (studentized range statistic / sqrt(2)). Beyond 10 we compute it with scipy.
Q_ALPHA_005 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102,
               10: 3.164}
Q_ALPHA_010 = {2: 1.645, 3: 2.052, 4: 2.291, 5: 2.459, 6: 2.589, 7: 2.693, 8: 2.780, 9: 2.855,
               10: 2.920}


def metrics_from_confusions(C: np.ndarray, only=None) -> dict[str, np.ndarray]:
    """WAR/UAR/macro-F1/weighted-F1 from a stack of confusion matrices (..., K, K).

    Same definitions as the run's metrics (classes absent from the truth are left out of
    UAR and macro-F1), kept here so that the tests can pin the two against each other:
    a comparison must score a run exactly as the run scored itself.
    """
    C = np.asarray(C, np.float64)
    tp = np.diagonal(C, axis1=-2, axis2=-1)
    support = C.sum(-1)
    if only is not None and set(only) <= {"war", "uar"}:  # cheap: no precision / F1 needed
        present = support > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(present, tp / np.maximum(support, 1), 0.0)
            full = {"war": tp.sum(-1) / support.sum(-1), "uar": recall.sum(-1) / present.sum(-1)}
        return {m: full[m] for m in only}
    from .metrics import _from_confusions  # the runs' own definitions, so nothing can drift

    full = _from_confusions(C)
    return full if only is None else {m: full[m] for m in only}


def _onehot_cells(y: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    O = np.zeros((len(y), k * k), np.float64)
    O[np.arange(len(y)), y * k + p] = 1.0
    return O


def _cluster_weights(rng: np.random.Generator, n_clusters: int, size: int) -> np.ndarray:
    """How often each cluster is drawn in each of ``size`` resamples (size × n_clusters)."""
    idx = rng.integers(0, n_clusters, size=(size, n_clusters))
    flat = idx + (np.arange(size) * n_clusters)[:, None]
    return np.bincount(flat.ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(np.float64)


def bootstrap_metrics(y: np.ndarray, preds: np.ndarray, k: int, *, groups=None, n_boot: int = 10000,
                      seed: int = 0, chunk: int = 2000, only=None) -> dict[str, np.ndarray]:
    """Each system's metrics on the same ``n_boot`` resamples: {metric: (n_systems, n_boot)}.

    ``preds`` is (n_systems, n). With ``groups`` (speakers, dialogues) clusters are drawn
    with replacement and counts are aggregated per cluster first, so a resample costs
    (clusters × K²) whatever the number of utterances; without, utterances are resampled.
    """
    y = np.asarray(y, np.int64)
    preds = np.atleast_2d(np.asarray(preds, np.int64))
    rng = np.random.default_rng(seed)
    if groups is None:
        # Utterances that look alike to every system (same truth, same predictions) are
        # interchangeable, so a resample is counted per such pattern: the count arrays are
        # (resamples × patterns), never larger than (resamples × utterances).
        patterns, codes = np.unique(np.column_stack([y, preds.T]), axis=0, return_inverse=True)
        codes = codes.ravel()
        n_clusters = len(patterns)
        n = len(y)

        def draw(size):
            drawn = codes[rng.integers(0, n, size=(size, n))]
            drawn += (np.arange(size) * n_clusters)[:, None]
            return np.bincount(drawn.ravel(), minlength=size * n_clusters).reshape(size, n_clusters).astype(np.float64)
    else:
        _, codes = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
        n_clusters = int(codes.max()) + 1 if len(codes) else 0

        def draw(size):
            return _cluster_weights(rng, n_clusters, size)
    out: dict[str, list] = {m: [] for m in (only or SINGLE)}
    if groups is None:
        # one cell per pattern and system: a sparse (patterns × K²) indicator per system, so a
        # chunk of resamples costs (resamples × patterns) per system, not × K² more
        import scipy.sparse as sp

        OT = [sp.csr_matrix((np.ones(n_clusters), (patterns[:, 0] * k + patterns[:, 1 + s], np.arange(n_clusters))),
                            shape=(k * k, n_clusters)) for s in range(len(preds))]
    else:
        # per system, per cluster counts of each confusion cell: (S, clusters, K²), one bincount
        flat = (np.arange(len(preds))[:, None] * n_clusters + codes[None, :]) * (k * k) + y[None, :] * k + preds
        per_cluster = np.bincount(flat.ravel(), minlength=len(preds) * n_clusters * k * k).reshape(
            len(preds), n_clusters, k * k).astype(np.float64)
    for start in range(0, n_boot, chunk):
        W = draw(min(chunk, n_boot - start))
        if groups is None:
            WT = np.ascontiguousarray(W.T)  # one copy per chunk, not one per system
            C = np.stack([(o @ WT).T for o in OT])
        else:
            C = np.einsum("bg,sgc->sbc", W, per_cluster, optimize=True)
        for m, v in metrics_from_confusions(C.reshape(len(preds), -1, k, k), only).items():
            out[m].append(v)
    return {m: np.concatenate(v, axis=1) for m, v in out.items()}


def paired_bootstrap(y, pred_a, pred_b, k: int, *, groups=None, n_boot: int = 10000, ci: float = 0.95,
                     seed: int = 0) -> dict[str, dict]:
    """Difference A − B per metric with a paired percentile bootstrap CI."""
    boot = bootstrap_metrics(y, np.stack([pred_a, pred_b]), k, groups=groups, n_boot=n_boot, seed=seed)
    point = {m: v[0] - v[1] for m, v in _point(y, np.stack([pred_a, pred_b]), k).items()}
    return {m: diff_summary(point[m], boot[m][0] - boot[m][1], ci) for m in SINGLE}


def _point(y, preds, k) -> dict[str, np.ndarray]:
    y = np.asarray(y, np.int64)
    C = np.stack([np.bincount(y * k + np.asarray(p, np.int64), minlength=k * k).reshape(k, k) for p in preds])
    return metrics_from_confusions(C)


def diff_summary(point: float, diffs: np.ndarray, ci: float = 0.95) -> dict:
    """Point difference, percentile CI and the share of resamples on the other side of 0."""
    lo, hi = np.nanpercentile(diffs, [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100])
    # two-sided bootstrap p: how often the resampled difference crosses zero (capped at 1)
    p = float(min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))) if len(diffs) else float("nan")
    return {"diff": float(point), "ci": [float(lo), float(hi)], "p_boot": p}


def mcnemar_exact(y, pred_a, pred_b) -> dict:
    """McNemar's exact test for two classifiers' accuracy on the same items.

    Only discordant items carry information: b = A right and B wrong, c = the reverse.
    Under H0 b ~ Binomial(b + c, 1/2); the two-sided p doubles the smaller tail, capped at 1
    (as statsmodels' ``mcnemar(exact=True)``).
    """
    from scipy.special import bdtr  # binomial CDF; scipy.special loads far faster than scipy.stats

    y, a, b_ = (np.asarray(v) for v in (y, pred_a, pred_b))
    ra, rb = a == y, b_ == y
    b = int(np.sum(ra & ~rb))
    c = int(np.sum(~ra & rb))
    n = b + c
    p = 1.0 if n == 0 else float(min(1.0, 2 * bdtr(min(b, c), n, 0.5)))
    return {"b": b, "c": c, "statistic": min(b, c), "p": p}


def approximate_randomisation(y, pred_a, pred_b, k: int, *, metrics=("uar", "macro_f1"),
                              n_perm: int = 10000, seed: int = 0) -> dict[str, dict]:
    """Paired approximate randomisation test of metric(A) − metric(B).

    Under H0 the two systems are exchangeable on every item, so each permutation swaps
    A's and B's prediction on a random half of the items and recomputes the difference.
    Only items where the two disagree can change anything, and disagreeing items with the
    same (truth, A's label, B's label) are interchangeable: only how many of the m such
    items get swapped matters (Binomial(m, 1/2)), so counts are updated per pattern (at
    most K³ of them) rather than per item.
    The p-value uses the add-one estimator (r + 1) / (R + 1), never 0.
    """
    y = np.asarray(y, np.int64)
    a = np.asarray(pred_a, np.int64)
    b = np.asarray(pred_b, np.int64)
    Ca = np.bincount(y * k + a, minlength=k * k).astype(np.float64)
    Cb = np.bincount(y * k + b, minlength=k * k).astype(np.float64)
    obs = {m: float(v[0] - v[1]) for m, v in metrics_from_confusions(np.stack([Ca, Cb]).reshape(2, k, k)).items()}
    d = np.flatnonzero(a != b)
    out = {}
    if len(d) == 0:
        return {m: {"diff": obs[m], "p": 1.0, "n_perm": 0} for m in metrics}
    patterns, sizes = np.unique(np.column_stack([y[d], a[d], b[d]]), axis=0, return_counts=True)
    # each pattern gets ceil(m / 8) random bytes, the last one masked down to its m % 8 bits;
    # the popcount of a pattern's bytes is its Binomial(m, 1/2) number of swaps
    nbytes = (sizes + 7) // 8
    starts = np.concatenate([[0], np.cumsum(nbytes)[:-1]])
    mask = np.full(int(nbytes.sum()), 0xFF, np.uint8)
    rem = sizes % 8
    mask[(starts + nbytes - 1)[rem > 0]] = (1 << rem[rem > 0]) - 1
    popcount = np.array([bin(i).count("1") for i in range(256)], np.uint8)
    # swapping one item of a pattern moves one count from A's cell to B's cell (sparse: 2 per row)
    import scipy.sparse as sp

    G = len(patterns)
    D = sp.csr_matrix((np.r_[np.ones(G), -np.ones(G)],
                       (np.r_[patterns[:, 0] * k + patterns[:, 2], patterns[:, 0] * k + patterns[:, 1]],
                        np.r_[np.arange(G), np.arange(G)])), shape=(k * k, G))
    # byte -> pattern it belongs to; (D @ byte-to-pattern) maps each byte's popcount straight
    # to confusion-count changes in one sparse product
    owner = np.repeat(np.arange(G), nbytes)
    DP = (D @ sp.csr_matrix((np.ones(len(owner)), (owner, np.arange(len(owner)))), shape=(G, len(owner))))
    DP = DP.astype(np.float32).tocsr()
    rng = np.random.default_rng(seed)
    exceed = {m: 0 for m in metrics}
    chunk = max(1, min(n_perm, 8_000_000 // max(len(mask), 1)))
    done = 0
    while done < n_perm:
        r = min(chunk, n_perm - done)
        bits = popcount[rng.integers(0, 256, size=(len(mask), r), dtype=np.uint8) & mask[:, None]]
        delta = np.asarray((DP @ bits.astype(np.float32)).T, dtype=np.float64)  # (r, K²), exact integers
        pa = metrics_from_confusions((Ca + delta).reshape(r, k, k))
        pb = metrics_from_confusions((Cb - delta).reshape(r, k, k))
        for m in metrics:
            # a tiny tolerance so that permutations equal to the observed value count as extreme
            exceed[m] += int(np.sum(np.abs(pa[m] - pb[m]) >= abs(obs[m]) - 1e-12))
        done += r
    for m in metrics:
        out[m] = {"diff": obs[m], "p": (exceed[m] + 1) / (n_perm + 1), "n_perm": n_perm}
    return out


def bootstrap_test(point_diff, diffs) -> np.ndarray | float:
    """Two-sided p of paired differences from their bootstrap distribution (normal approximation).

    Unlike counting resamples, this gives p-values finer than 1 / n_boot, which a Holm
    correction over hundreds of runs needs (the smallest p must fall below alpha / m).
    ``diffs``: (n_boot,) or (comparisons, n_boot), with ``point_diff`` of matching shape.
    """
    from math import erfc, sqrt  # the normal tail without importing scipy for it

    ndtr = np.frompyfunc(lambda z: 0.5 * erfc(-z / sqrt(2)), 1, 1)
    d = np.atleast_2d(np.asarray(diffs, np.float64))
    x = np.atleast_1d(np.asarray(point_diff, np.float64))
    sd = np.nanstd(d, axis=1, ddof=1) if d.shape[1] > 1 else np.zeros(len(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = ndtr(-np.abs(x) / np.where(sd > 0, sd, 1)).astype(np.float64)
        p = np.where(sd > 0, 2 * tail, np.where(x == 0, 1.0, 0.0))
    return float(p[0]) if np.ndim(point_diff) == 0 else p


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(pvalues, np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="mergesort")
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def average_ranks(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Mean rank of each system (columns) over datasets (rows); rank 1 = best, ties averaged."""
    from scipy.stats import rankdata

    s = np.asarray(scores, np.float64)
    return rankdata(-s if higher_is_better else s, axis=1).mean(0)


def friedman(scores: np.ndarray) -> dict:
    """Friedman test over datasets (rows) × systems (columns), with Iman–Davenport's F.

    Demšar (2006) recommends F_F over the chi-square statistic, which is conservative.
    """
    from scipy.stats import f as fdist
    from scipy.stats import friedmanchisquare

    s = np.asarray(scores, np.float64)
    N, k = s.shape
    chi2, p = friedmanchisquare(*s.T)
    ff = (N - 1) * chi2 / (N * (k - 1) - chi2) if N * (k - 1) != chi2 else float("inf")
    pf = float(fdist.sf(ff, k - 1, (k - 1) * (N - 1))) if np.isfinite(ff) else 0.0
    return {"chi2": float(chi2), "p": float(p), "iman_davenport_f": float(ff), "p_f": pf,
            "n_datasets": N, "k": k, "ranks": average_ranks(s).tolist()}


def q_alpha(k: int, alpha: float = 0.05) -> float:
    table = {0.05: Q_ALPHA_005, 0.10: Q_ALPHA_010}.get(alpha, {})
    if k in table:
        return table[k]
    from scipy.stats import studentized_range

    return float(studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))


def nemenyi_cd(k: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks (Demšar 2006, eq. 5)."""
    return q_alpha(k, alpha) * float(np.sqrt(k * (k + 1) / (6.0 * n_datasets)))


def cd_cliques(ranks, cd: float) -> list[list[int]]:
    """Maximal groups of systems whose average ranks lie within one CD (bars on the diagram)."""
    r = np.asarray(ranks)
    order = np.argsort(r)
    cliques = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and r[order[j + 1]] - r[order[i]] <= cd:
            j += 1
        if j > i:
            group = [int(x) for x in order[i:j + 1]]
            if not any(set(group) <= set(c) for c in cliques):
                cliques.append(group)
    return cliques


def plot_cd(ranks, names, cd: float, path: Path, title: str = "") -> Path:
    """Demšar's critical-difference diagram: average ranks on an axis, CD bar, cliques joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.asarray(ranks, float)
    k = len(r)
    order = np.argsort(r)
    half = (k + 1) // 2
    fig, ax = plt.subplots(figsize=(7, 1.6 + 0.28 * half), dpi=120)
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(half + 1.5), 1.6)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for t in range(1, k + 1):
        ax.vlines(t, 0, 0.12, color="black", lw=1)
        ax.text(t, 0.22, str(t), ha="center", va="bottom", fontsize=8)
    ax.hlines(1.15, 1, 1 + cd, color="black", lw=2)
    ax.text(1 + cd / 2, 1.25, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for pos, i in enumerate(order):
        left = pos < half
        row = -(pos + 1) if left else -(k - pos)
        x_end = 0.6 if left else k + 0.4
        ax.plot([r[i], r[i], x_end], [0, row, row], color="black", lw=0.8)
        ax.text(x_end + (-0.05 if left else 0.05), row, f"{names[i]} ({r[i]:.2f})",
                ha="right" if left else "left", va="center", fontsize=8)
    for c, group in enumerate(cd_cliques(r, cd)):
        lo, hi = r[group].min(), r[group].max()
        y = -0.35 - 0.2 * c
        ax.hlines(y, lo - 0.03, hi + 0.03, color="black", lw=3)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
