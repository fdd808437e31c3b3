"""Rater-vote aggregation and inter-rater agreement, independent of any corpus.

Votes are held as two ``(items, raters)`` arrays: integer category codes (``-1`` =
no vote from that rater) and confidences. :func:`encode` turns lists of category
names into codes. Everything here is plain numpy and deterministic: every
aggregation has a documented tie rule, so the same votes always give the same label.

Three things live here:

* :func:`weighted_confidence` / :func:`aggregate_weighted`: the EmotionTalk paper's
  weighted-confidence aggregation (Sun et al. 2025, §3.2);
* :func:`aggregate_majority`: plain majority vote, as an alternative;
* :func:`fleiss_kappa`: Fleiss' kappa of an ``items × categories`` count matrix
  (:func:`ratings_matrix` builds it from codes).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

#: Confidence scale of the EmotionTalk release: ``Confidence_degree`` "1","3","5","7","9"
#: → c = degree / 10 ∈ {0.1, 0.3, 0.5, 0.7, 0.9}.
DEGREES = (1, 3, 5, 7, 9)

#: Two scores closer than this are a tie (scores are means of confidences in 0..1).
TIE_TOL = 1e-9

DENOMINATORS = ("chosen", "all")


def confidence_from_degree(degree) -> float:
    """``Confidence_degree`` as released ("9", 9, "9.0") → c = degree / 10.

    Raises ``ValueError`` for anything that is not a number in (0, 10].
    """
    try:
        d = float(str(degree).strip())
    except (TypeError, ValueError):
        raise ValueError(f"confidence degree {degree!r} is not a number (expected 1, 3, 5, 7 or 9)") from None
    if not (0 < d <= 10):
        raise ValueError(f"confidence degree {degree!r} is outside 1..9 (expected 1, 3, 5, 7 or 9)")
    return d / 10.0


def encode(votes: Sequence[Sequence[str | None]], categories: Sequence[str]) -> np.ndarray:
    """Category names → ``(items, raters)`` int codes (index into ``categories``; -1 = no vote).

    Rows may have different lengths (padded with -1). A name outside ``categories``
    raises ``ValueError`` naming it and the item.
    """
    index = {c: i for i, c in enumerate(categories)}
    width = max((len(v) for v in votes), default=0)
    codes = np.full((len(votes), width), -1, dtype=np.int64)
    for i, row in enumerate(votes):
        for j, name in enumerate(row):
            if name is None:
                continue
            if name not in index:
                raise ValueError(f"item {i}: vote '{name}' is not one of the categories "
                                 f"{', '.join(categories)}")
            codes[i, j] = index[name]
    return codes


def _as_arrays(codes, conf, n_categories):
    codes = np.asarray(codes, dtype=np.int64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be 2-D (items, raters), got shape {codes.shape}")
    if conf is None:
        conf = np.ones(codes.shape, dtype=np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    if conf.shape != codes.shape:
        raise ValueError(f"confidences have shape {conf.shape}, votes {codes.shape}")
    if codes.size and (codes.max() >= n_categories or codes.min() < -1):
        raise ValueError(f"codes must be -1 (no vote) or 0..{n_categories - 1}")
    voted = codes >= 0
    if np.any(np.isnan(conf[voted])) or np.any(conf[voted] < 0):
        raise ValueError("confidences of cast votes must be non-negative numbers")
    return codes, conf, voted


def _per_category(codes, conf, voted, n_categories):
    """(count N_k, confidence sum S_k) per item and category."""
    n_items = codes.shape[0]
    counts = np.zeros((n_items, n_categories), dtype=np.int64)
    sums = np.zeros((n_items, n_categories), dtype=np.float64)
    rows = np.broadcast_to(np.arange(n_items)[:, None], codes.shape)
    np.add.at(counts, (rows[voted], codes[voted]), 1)
    np.add.at(sums, (rows[voted], codes[voted]), conf[voted])
    return counts, sums


def weighted_confidence(codes, conf, n_categories: int, denominator: str = "chosen") -> np.ndarray:
    r"""The EmotionTalk paper's weighted confidence score per item and category.

    Sun et al. (2025), *EmotionTalk*, §3.2 ("Emotion Category"):

        x_k = \frac{1}{N_k} \sum_{i=1}^{N} \mathbb{I}(y_i = k) \cdot c_i

        "where k represents the emotion category, N_k is the number of annotations
        for category k, I(y_i = k) is an indicator function, which equals 1 if the
        label y_i assigned by annotator i is equal to category k, and 0 otherwise."
        ... "y = argmax x_k".

    With ``denominator="chosen"`` (the default, the paper as written) ``N_k`` is the
    number of annotators who chose ``k``, so ``x_k`` is the *mean confidence of the
    annotators who chose k* (``x_k = 0`` when nobody chose ``k``). Note what that
    implies: one annotator at 0.9 outscores four at 0.7. ``denominator="all"``
    divides by the number of annotators who voted on the item instead (a
    confidence-weighted vote share); it is offered only to test which reading a
    release's ``emotion_result`` follows, never as the paper's formula.

    ``codes``: ``(items, raters)`` ints, -1 = no vote; ``conf``: same shape, c_i.
    Returns ``(items, n_categories)`` floats.
    """
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {DENOMINATORS}, not {denominator!r}")
    codes, conf, voted = _as_arrays(codes, conf, n_categories)
    counts, sums = _per_category(codes, conf, voted, n_categories)
    if denominator == "chosen":
        den = counts.astype(np.float64)
    else:
        den = np.broadcast_to(voted.sum(axis=1, keepdims=True), counts.shape).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(den > 0, sums / np.where(den > 0, den, 1.0), 0.0)
    return x


def _argmax_with_ties(keys: list[np.ndarray], eligible: np.ndarray) -> np.ndarray:
    """Row-wise argmax over lexicographic ``keys`` (first key first), lowest index last.

    Only ``eligible`` cells compete; rows with no eligible cell give -1.
    """
    cand = eligible.copy()
    for key in keys:
        k = np.where(cand, key, -np.inf)
        best = k.max(axis=1, keepdims=True)
        cand &= k >= best - TIE_TOL
    winner = np.where(cand.any(axis=1), cand.argmax(axis=1), -1)  # argmax → first True = lowest index
    return winner


def aggregate_weighted(codes, conf, n_categories: int, denominator: str = "chosen") -> np.ndarray:
    """``y = argmax_k x_k`` (see :func:`weighted_confidence`), one category code per item.

    Tie rule (deterministic, applied in order until one category is left):
      1. highest ``x_k`` (scores within ``TIE_TOL`` tie, so 0.7/0.9 averaging to
         0.8 ties with a single 0.8 despite float rounding);
      2. most annotators who chose ``k`` (``N_k``);
      3. lowest category index (the order of ``categories`` given to :func:`encode`).
    (Equal ``x_k`` and equal ``N_k`` imply equal summed confidence, so a confidence
    tie-break would never decide anything.) Only categories someone chose can win.
    Items with no votes give -1.
    """
    codes, conf, voted = _as_arrays(codes, conf, n_categories)
    counts, _ = _per_category(codes, conf, voted, n_categories)
    x = weighted_confidence(codes, conf, n_categories, denominator)
    return _argmax_with_ties([x, counts.astype(np.float64)], counts > 0)


def aggregate_majority(codes, conf=None, n_categories: int | None = None) -> np.ndarray:
    """Majority (plurality) vote, one category code per item.

    Tie rule (deterministic, in order): 1. most votes; 2. highest summed confidence
    of the tied categories (skipped when ``conf`` is None); 3. lowest category index.
    Items with no votes give -1.
    """
    codes = np.asarray(codes, dtype=np.int64)
    if n_categories is None:
        n_categories = int(codes.max()) + 1 if codes.size else 0
    codes, conf, voted = _as_arrays(codes, conf, n_categories)
    counts, sums = _per_category(codes, conf, voted, n_categories)
    return _argmax_with_ties([counts.astype(np.float64), sums], counts > 0)


def weighted_vote(labels: Sequence[str], confidences: Sequence[float],
                  categories: Sequence[str] | None = None, denominator: str = "chosen") -> str | None:
    """One item: the paper's weighted-confidence label (``None`` if there are no votes).

    ``categories`` fixes the last tie-break (default: sorted names of the votes).
    """
    cats = list(categories) if categories is not None else sorted(set(labels))
    codes = encode([list(labels)], cats)
    w = aggregate_weighted(codes, np.asarray([list(confidences)], float).reshape(codes.shape),
                           len(cats), denominator)[0]
    return None if w < 0 else cats[w]


def majority_vote(labels: Sequence[str], confidences: Sequence[float] | None = None,
                  categories: Sequence[str] | None = None) -> str | None:
    """One item: the majority label, ties broken as in :func:`aggregate_majority`."""
    cats = list(categories) if categories is not None else sorted(set(labels))
    codes = encode([list(labels)], cats)
    conf = None if confidences is None else np.asarray([list(confidences)], float).reshape(codes.shape)
    w = aggregate_majority(codes, conf, len(cats))[0]
    return None if w < 0 else cats[w]


def ratings_matrix(codes, n_categories: int) -> np.ndarray:
    """``(items, raters)`` codes → ``(items, categories)`` counts n_ij (-1 votes ignored)."""
    codes = np.asarray(codes, dtype=np.int64)
    counts, _ = _per_category(codes, np.ones(codes.shape), codes >= 0, n_categories)
    return counts


def fleiss_kappa(counts) -> float:
    r"""Fleiss' kappa of an ``(items, categories)`` matrix of rating counts n_ij.

    Every item must have the same number of ratings n ≥ 2 (Fleiss 1971). With N
    items: p_j = Σ_i n_ij / (N n); P_i = (Σ_j n_ij² − n) / (n (n − 1));
    P̄ = mean_i P_i; P_e = Σ_j p_j²; κ = (P̄ − P_e) / (1 − P_e).
    Returns ``nan`` when P_e = 1 (every rating in one category: kappa is undefined).
    """
    m = np.asarray(counts, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"Fleiss' kappa needs a non-empty (items, categories) matrix, got shape {m.shape}")
    if np.any(m < 0):
        raise ValueError("rating counts must be non-negative")
    n_per = m.sum(axis=1)
    n = n_per[0]
    if not np.all(n_per == n):
        bad = int(np.flatnonzero(n_per != n)[0])
        raise ValueError(f"Fleiss' kappa needs the same number of ratings per item: item 0 has "
                         f"{n:g}, item {bad} has {n_per[bad]:g}. Drop or complete such items first.")
    if n < 2:
        raise ValueError(f"Fleiss' kappa needs at least 2 ratings per item, got {n:g}")
    N = m.shape[0]
    p = m.sum(axis=0) / (N * n)
    P_i = (np.square(m).sum(axis=1) - n) / (n * (n - 1))
    P_bar = P_i.mean()
    P_e = float(np.square(p).sum())
    if abs(1.0 - P_e) < 1e-15:
        return float("nan")
    return float((P_bar - P_e) / (1.0 - P_e))
