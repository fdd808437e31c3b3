"""Vote aggregation and Fleiss' kappa against hand-computed cases, ties included."""
from __future__ import annotations

import math

import numpy as np
import pytest

from affectbench import agreement as agr

CATS = ("happy", "sad", "neutral")


def one(labels, conf, cats=CATS, denominator="chosen"):
    return agr.weighted_vote(labels, conf, cats, denominator)


def test_confidence_degrees():
    assert [agr.confidence_from_degree(d) for d in ("1", "3", "5", "7", "9")] == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert agr.confidence_from_degree(7) == 0.7
    for bad in ("", None, "high", "0", "11", -3):
        with pytest.raises(ValueError, match="confidence degree"):
            agr.confidence_from_degree(bad)


def test_weighted_scores_follow_the_paper_formula():
    # happy: 0.9, 0.7, 0.5 (N_k = 3) -> x = 2.1 / 3 = 0.7; sad: 0.9 (N_k = 1) -> 0.9;
    # neutral: 0.5 -> 0.5. The paper's argmax is sad: one sure annotator beats three.
    labels = ["happy", "happy", "sad", "neutral", "happy"]
    conf = [0.9, 0.7, 0.9, 0.5, 0.5]
    codes = agr.encode([labels], CATS)
    x = agr.weighted_confidence(codes, np.array([conf]), 3)
    np.testing.assert_allclose(x[0], [0.7, 0.9, 0.5])
    assert one(labels, conf) == "sad"
    # Dividing by all 5 annotators instead: happy 2.1/5, sad 0.9/5, neutral 0.5/5 -> happy.
    x_all = agr.weighted_confidence(codes, np.array([conf]), 3, denominator="all")
    np.testing.assert_allclose(x_all[0], [0.42, 0.18, 0.10])
    assert one(labels, conf, denominator="all") == "happy"
    assert agr.majority_vote(labels, conf, CATS) == "happy"
    with pytest.raises(ValueError, match="denominator"):
        agr.weighted_confidence(codes, np.array([conf]), 3, denominator="mean")


def test_categories_nobody_chose_score_zero_and_cannot_win():
    codes = agr.encode([["neutral", "neutral"]], CATS)
    x = agr.weighted_confidence(codes, np.array([[0.1, 0.1]]), 3)
    np.testing.assert_allclose(x[0], [0.0, 0.0, 0.1])
    assert agr.aggregate_weighted(codes, np.array([[0.1, 0.1]]), 3)[0] == 2


def test_weighted_ties():
    # equal x, equal N_k -> lowest index in the category order given
    assert one(["happy", "sad"], [0.9, 0.9], ("happy", "sad")) == "happy"
    assert one(["happy", "sad"], [0.9, 0.9], ("sad", "happy")) == "sad"
    # equal x (0.9), sad chosen by more annotators -> sad, whatever the category order
    assert one(["happy", "sad", "sad"], [0.9, 0.9, 0.9]) == "sad"
    # 0.7 and 0.9 average to 0.8 (0.7999999999999999 in floats): a tie with a single 0.8
    assert one(["sad", "happy", "happy"], [0.8, 0.7, 0.9]) == "happy"
    assert one(["sad", "happy", "happy"], [0.8, 0.7, 0.9], ("sad", "happy")) == "happy"
    # denominator="all": happy 0.9/3 and sad (0.5 + 0.4)/3 tie -> sad has more annotators
    assert one(["happy", "sad", "sad"], [0.9, 0.5, 0.4], denominator="all") == "sad"
    # the order of the annotators never matters
    assert one(["sad", "happy"], [0.9, 0.9], ("happy", "sad")) == "happy"


def test_majority_ties():
    assert agr.majority_vote(["happy", "sad", "sad"], None, CATS) == "sad"
    # 1-1 tie -> higher summed confidence
    assert agr.majority_vote(["happy", "sad"], [0.9, 0.5], CATS) == "happy"
    assert agr.majority_vote(["happy", "sad"], [0.5, 0.9], CATS) == "sad"
    # 2-2 tie, equal confidence sums -> lowest category index
    assert agr.majority_vote(["sad", "happy", "sad", "happy"], [0.5, 0.5, 0.5, 0.5], CATS) == "happy"
    assert agr.majority_vote(["sad", "happy"], None, ("sad", "happy")) == "sad"


def test_missing_votes_and_empty_items():
    codes = np.array([[0, -1, 1, 1], [-1, -1, -1, -1]])
    conf = np.array([[0.9, 0.0, 0.3, 0.5], [0, 0, 0, 0]])
    np.testing.assert_array_equal(agr.aggregate_weighted(codes, conf, 3), [0, -1])
    np.testing.assert_array_equal(agr.aggregate_majority(codes, conf, 3), [1, -1])
    np.testing.assert_array_equal(agr.ratings_matrix(codes, 3), [[1, 2, 0], [0, 0, 0]])
    assert agr.weighted_vote([], [], CATS) is None
    with pytest.raises(ValueError, match="not one of the categories"):
        agr.encode([["happy", "joyful"]], CATS)
    with pytest.raises(ValueError, match="shape"):
        agr.aggregate_weighted(codes, conf[:, :2], 3)


def test_vectorised_matches_item_by_item():
    rng = np.random.default_rng(0)
    codes = rng.integers(-1, 4, size=(300, 5))
    conf = rng.choice([0.1, 0.3, 0.5, 0.7, 0.9], size=(300, 5))
    cats = ["a", "b", "c", "d"]
    w = agr.aggregate_weighted(codes, conf, 4)
    for i in range(300):
        labs = [cats[c] for c in codes[i] if c >= 0]
        cs = [conf[i, j] for j in range(5) if codes[i, j] >= 0]
        # reference: literal formula, ties by N_k then category order
        best = None
        for k, c in enumerate(cats):
            chosen = [x for lab, x in zip(labs, cs) if lab == c]
            if not chosen:
                continue
            key = (round(sum(chosen) / len(chosen), 9), len(chosen), -k)
            best = max(best, (key, c)) if best else (key, c)
        assert (cats[w[i]] if w[i] >= 0 else None) == (best[1] if best else None)


WIKI = [  # Fleiss (1971) worked example as on Wikipedia: 10 items, 14 raters, 5 categories
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]


def test_fleiss_kappa_hand_computed():
    # P̄ = 0.378, P_e = 0.2128 -> κ = 0.2099
    assert agr.fleiss_kappa(WIKI) == pytest.approx(0.20993, abs=1e-4)
    # 3 items, 2 raters: p = (.5, .5), P_e = .5; P_i = 1, 1, 0 -> P̄ = 2/3; κ = (2/3 - 1/2) / (1/2)
    assert agr.fleiss_kappa([[2, 0], [0, 2], [1, 1]]) == pytest.approx(1 / 3)
    # perfect agreement over several categories
    assert agr.fleiss_kappa([[5, 0, 0], [0, 5, 0], [0, 0, 5]]) == pytest.approx(1.0)
    # systematic disagreement: each item split 1-1 between 2 categories -> κ = (0 - .5) / .5 = -1
    assert agr.fleiss_kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)
    # everything in one category: P_e = 1, undefined
    assert math.isnan(agr.fleiss_kappa([[3, 0], [3, 0]]))


def test_fleiss_kappa_from_codes_and_bad_input():
    codes = agr.encode([["happy", "happy"], ["sad", "sad"], ["happy", "sad"]], CATS)
    assert agr.fleiss_kappa(agr.ratings_matrix(codes, 3)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="same number of ratings"):
        agr.fleiss_kappa([[2, 0], [1, 0]])
    with pytest.raises(ValueError, match="at least 2"):
        agr.fleiss_kappa([[1, 0], [0, 1]])
    with pytest.raises(ValueError, match="non-empty"):
        agr.fleiss_kappa(np.zeros((0, 3)))
