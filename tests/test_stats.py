"""Every paired statistic against a reference implementation or a worked example."""
from __future__ import annotations

import numpy as np
import pytest

from affectbench import metrics as M
from affectbench import stats


def _pair(n=300, k=4, seed=0, acc_a=0.7, acc_b=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    a = np.where(rng.random(n) < acc_a, y, rng.integers(0, k, n))
    b = np.where(rng.random(n) < acc_b, y, rng.integers(0, k, n))
    return y, a, b


def test_metrics_match_the_runs_own_definitions():
    y, a, _ = _pair(k=5)
    a[a == 4] = 3  # a class never predicted
    y[:3] = 4
    ref = M.classification(y, a, list("abcde"), n_boot=0)
    C = np.bincount(y * 5 + a, minlength=25).reshape(5, 5)
    got = stats.metrics_from_confusions(C)
    for m in stats.SINGLE:
        assert got[m] == pytest.approx(ref[m], abs=1e-12)


def test_mcnemar_exact_matches_statsmodels():
    from statsmodels.stats.contingency_tables import mcnemar

    for seed in range(8):
        y, a, b = _pair(n=80 + 20 * seed, seed=seed, acc_a=0.6 + 0.03 * seed)
        got = stats.mcnemar_exact(y, a, b)
        ra, rb = a == y, b == y
        table = [[np.sum(ra & rb), np.sum(ra & ~rb)], [np.sum(~ra & rb), np.sum(~ra & ~rb)]]
        ref = mcnemar(table, exact=True)
        assert got["p"] == pytest.approx(ref.pvalue, rel=1e-12)
        assert got["statistic"] == ref.statistic


def test_mcnemar_identical_systems():
    y, a, _ = _pair()
    assert stats.mcnemar_exact(y, a, a)["p"] == 1.0


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 17):
        p = rng.random(m) ** 3
        p[0] = p[-1]  # a tie
        assert np.allclose(stats.holm(p), multipletests(p, method="holm")[1])


def test_friedman_matches_scipy_and_demsar_cd():
    from scipy.stats import friedmanchisquare

    rng = np.random.default_rng(0)
    s = rng.random((6, 4)) + np.array([0.0, 0.1, 0.2, 0.05])
    got = stats.friedman(s)
    ref = friedmanchisquare(*s.T)
    assert got["chi2"] == pytest.approx(ref.statistic)
    assert got["p"] == pytest.approx(ref.pvalue)
    # Demšar (2006), section 3.2.4: k = 4 classifiers on N = 14 data sets, q_0.05 = 2.569, CD = 1.25
    assert stats.nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.005)
    # and his Friedman example: average ranks 3.143, 2.000, 2.893, 1.964 -> chi2_F = 9.28, F_F = 3.69
    R = np.array([3.143, 2.000, 2.893, 1.964])
    N, k = 14, 4
    chi2 = 12 * N / (k * (k + 1)) * (np.sum(R ** 2) - k * (k + 1) ** 2 / 4)
    assert chi2 == pytest.approx(9.28, abs=0.01)
    assert (N - 1) * chi2 / (N * (k - 1) - chi2) == pytest.approx(3.69, abs=0.01)


def test_q_alpha_table_agrees_with_studentized_range():
    from scipy.stats import studentized_range

    for k, q in stats.Q_ALPHA_005.items():
        assert studentized_range.ppf(0.95, k, np.inf) / np.sqrt(2) == pytest.approx(q, abs=2e-3)
    assert stats.q_alpha(12) > stats.q_alpha(10)


def test_average_ranks_ties():
    r = stats.average_ranks(np.array([[0.9, 0.9, 0.1], [0.5, 0.7, 0.6]]))
    assert np.allclose(r, [(1.5 + 3) / 2, (1.5 + 1) / 2, (3 + 2) / 2])


def test_cd_cliques():
    assert stats.cd_cliques([1.0, 1.5, 3.0, 3.2], cd=0.6) == [[0, 1], [2, 3]]


def test_approximate_randomisation_matches_scipy_exact_permutation():
    """With few disagreeing items scipy enumerates every swap exactly; ours samples them."""
    from scipy.stats import permutation_test

    rng = np.random.default_rng(5)
    k = 3
    y = rng.integers(0, k, 40)
    a = y.copy()
    b = y.copy()
    flip = rng.choice(40, 11, replace=False)
    a[flip[:7]] = (y[flip[:7]] + 1) % k
    b[flip[4:]] = (y[flip[4:]] + 2) % k

    def uar(p):
        return stats.metrics_from_confusions(np.bincount(y * k + p, minlength=k * k).reshape(k, k))["uar"]

    d = np.flatnonzero(a != b)  # swaps elsewhere change nothing: enumerate 2^len(d) exactly

    def diff(u, v):
        aa, bb = a.copy(), b.copy()
        aa[d], bb[d] = u, v
        return uar(aa) - uar(bb)

    ref = permutation_test((a[d], b[d]), diff,
                           permutation_type="samples", vectorized=False, n_resamples=np.inf,
                           alternative="two-sided")
    got = stats.approximate_randomisation(y, a, b, k, metrics=("uar",), n_perm=20000, seed=1)
    assert got["uar"]["diff"] == pytest.approx(ref.statistic)
    assert got["uar"]["p"] == pytest.approx(ref.pvalue, abs=0.015)


def test_randomisation_on_accuracy_is_mcnemar():
    """Swapping predictions flips discordant pairs: the permutation test of WAR is McNemar's."""
    y, a, b = _pair(n=200, seed=2, acc_a=0.68, acc_b=0.6)
    got = stats.approximate_randomisation(y, a, b, 4, metrics=("war",), n_perm=40000, seed=0)
    assert got["war"]["p"] == pytest.approx(stats.mcnemar_exact(y, a, b)["p"], abs=0.01)


def test_paired_bootstrap_agrees_with_a_loop():
    y, a, b = _pair(n=120, seed=4)
    groups = np.repeat(list("abcdefghijkl"), 10)  # codes in sorted order
    got = stats.bootstrap_metrics(y, np.stack([a, b]), 4, groups=groups, n_boot=300, seed=7)
    # the same resamples by a plain loop over drawn speakers
    rng = np.random.default_rng(7)
    W = stats._cluster_weights(rng, 12, 300)
    for r in range(0, 300, 37):
        idx = np.concatenate([np.flatnonzero(groups == "abcdefghijkl"[g]) for g in range(12)
                              for _ in range(int(W[r, g]))])
        for s, p in enumerate((a, b)):
            ref = M.classification(y[idx], p[idx], list("abcd"), n_boot=0)
            assert got["uar"][s, r] == pytest.approx(ref["uar"])
            assert got["war"][s, r] == pytest.approx(ref["war"])


def test_paired_bootstrap_difference():
    y, a, b = _pair(n=400, seed=1, acc_a=0.8, acc_b=0.5)
    d = stats.paired_bootstrap(y, a, b, 4, n_boot=2000)
    assert d["war"]["diff"] == pytest.approx(np.mean(a == y) - np.mean(b == y))
    assert d["war"]["ci"][0] > 0 and d["war"]["p_boot"] < 0.01
    same = stats.paired_bootstrap(y, a, a, 4, n_boot=200)
    assert same["uar"]["ci"] == [0.0, 0.0]


def test_cd_plot(tmp_path):
    p = stats.plot_cd([1.2, 2.5, 2.9, 3.4], ["a", "b", "c", "d"], 1.25, tmp_path / "cd.png")
    assert p.stat().st_size > 1000


def test_bootstrap_test_normal_approximation():
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    d = rng.normal(0.03, 0.01, 5000)
    assert stats.bootstrap_test(0.03, d) == pytest.approx(2 * norm.sf(0.03 / d.std(ddof=1)))
    many = stats.bootstrap_test(np.array([0.03, 0.0]), np.stack([d, d - 0.03]))
    assert many[0] == pytest.approx(2 * norm.sf(0.03 / d.std(ddof=1))) and many[1] == 1.0
    assert stats.bootstrap_test(0.0, np.zeros(10)) == 1.0


def test_utterance_bootstrap_by_patterns_has_the_right_spread():
    """Resampling patterns multinomially is resampling utterances: WAR's sd is sqrt(p(1-p)/n)."""
    y, a, b = _pair(n=600, seed=9, acc_a=0.7)
    boot = stats.bootstrap_metrics(y, np.stack([a, b]), 4, n_boot=20000, seed=2)
    p = np.mean(a == y)
    assert boot["war"][0].mean() == pytest.approx(p, abs=0.002)
    assert boot["war"][0].std() == pytest.approx(np.sqrt(p * (1 - p) / 600), rel=0.05)
    # and the paired difference's spread follows the discordant pairs (McNemar's variance)
    ra, rb = a == y, b == y
    pb, pc = np.mean(ra & ~rb), np.mean(~ra & rb)
    sd = np.sqrt((pb + pc - (pb - pc) ** 2) / 600)
    assert (boot["war"][0] - boot["war"][1]).std() == pytest.approx(sd, rel=0.05)


def test_only_uar_matches_full_metrics():
    y, a, b = _pair(n=200, seed=3)
    g = np.repeat(list("abcdefghij"), 20)
    full = stats.bootstrap_metrics(y, np.stack([a, b]), 4, groups=g, n_boot=300, seed=1)
    fast = stats.bootstrap_metrics(y, np.stack([a, b]), 4, groups=g, n_boot=300, seed=1, only=("uar",))
    assert list(fast) == ["uar"] and np.allclose(fast["uar"], full["uar"])
