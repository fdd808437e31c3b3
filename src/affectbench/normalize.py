"""Feature normalisation, always fitted without test labels.

- ``fold`` (default, as the benchmark cards imply): z-score with the training
  fold's mean and standard deviation, applied to train, valid and test.
- ``speaker``: z-score each speaker with that speaker's own statistics (common
  in speech emotion work). It uses no labels, but it does use the test
  speaker's unlabelled features: reports say so.
- ``none``.
Blocks from extractors that should not be centred (sparse TF-IDF) pass through.
When several blocks are concatenated (early fusion), each standardised block is
divided by the square root of its width so that every block has about unit norm,
like an L2-normalised TF-IDF row; otherwise the widest block dominates.
"""
from __future__ import annotations

import numpy as np

MODES = ("fold", "speaker", "none")


def _z(X, mu, sd):
    return (X - mu) / sd


def _stats(X):
    mu = X.mean(0)
    sd = X.std(0)
    sd[sd < 1e-8] = 1.0  # constant features stay constant (0) instead of exploding
    return mu, sd


def fold_standardise(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    mu, sd = _stats(X[train])
    return _z(X, mu, sd).astype(np.float32)


def speaker_standardise(X: np.ndarray, speakers: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Per-speaker z-scores; utterances without a speaker fall back to the training fold's stats."""
    out = np.empty_like(X, dtype=np.float32)
    spk = np.asarray(speakers, dtype=object)
    missing = np.array([s is None or s != s for s in spk])
    for s in set(spk[~missing]):
        m = spk == s
        mu, sd = _stats(X[m])
        out[m] = _z(X[m], mu, sd)
    if missing.any():
        mu, sd = _stats(X[train])
        out[missing] = _z(X[missing], mu, sd)
    return out


def normalise(X: np.ndarray, mode: str, train: np.ndarray, speakers=None) -> np.ndarray:
    if mode == "fold":
        return fold_standardise(X, train)
    if mode == "speaker":
        return speaker_standardise(X, speakers, train)
    return X.astype(np.float32)


def describe(mode: str) -> str:
    return {
        "fold": "standardisation fitted on the training fold",
        "speaker": "per-speaker standardisation (each speaker's own mean/std, test speakers "
                   "included, no labels used)",
        "none": "none",
    }[mode]
