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

from dataclasses import dataclass

import numpy as np

MODES = ("fold", "speaker", "none")


def _z(X, mu, sd):
    return (X - mu) / sd


def _stats(X):
    mu = X.mean(0)
    sd = X.std(0)
    sd[sd < 1e-8] = 1.0  # constant features stay constant (0) instead of exploding
    return mu, sd


@dataclass
class ZScore:
    """Per-feature mean and standard deviation fitted on training rows: the object a fold
    fits and a saved model applies, so that a run and ``predict`` normalise alike."""

    mu: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "ZScore":
        mu, sd = _stats(X)
        return cls(mu, sd)

    def apply(self, X: np.ndarray) -> np.ndarray:
        return _z(X, self.mu, self.sd).astype(np.float32)


@dataclass
class BlockFit:
    """What a fold fitted for one feature block before the head (kept to save a model):
    its z-score (None: passed through), or the vectoriser of a per-fold text extractor."""

    name: str
    modality: str
    mode: str  # the run's normalisation mode for this block ("none" when not standardised)
    zscore: ZScore | None = None
    vectorizer: object = None
    sequence: bool = False


def fold_standardise(X: np.ndarray, train: np.ndarray) -> np.ndarray:
    return ZScore.fit(X[train]).apply(X)


def speaker_standardise(X: np.ndarray, speakers, train: np.ndarray, pool: np.ndarray | None = None,
                        pool_speakers=None) -> tuple[np.ndarray, dict]:
    """Per-speaker z-scores from each speaker's statistics over ``pool`` (all of that speaker's
    utterances in the corpus, labelled in the view or not; default: ``X``).

    A speaker with fewer than two pooled utterances has no standard deviation: those rows,
    and rows without a speaker, use the training fold's statistics instead (a lone utterance
    z-scored by itself would become an all-zero vector).
    """
    out = np.empty_like(X, dtype=np.float32)
    spk = _speaker_array(speakers)
    pool, pspk = (X, spk) if pool is None else (pool, _speaker_array(pool_speakers))
    fallback = np.array([s is None for s in spk])
    for s in set(spk[~fallback]):
        m = spk == s
        src = pool[pspk == s]
        if len(src) < 2:
            fallback |= m
            continue
        mu, sd = _stats(src)
        out[m] = _z(X[m], mu, sd)
    if fallback.any():
        mu, sd = _stats(X[train])
        out[fallback] = _z(X[fallback], mu, sd)
    return out, {"rows_with_fold_statistics": int(fallback.sum())}


def _speaker_array(speakers) -> np.ndarray:
    spk = np.asarray(speakers, dtype=object).copy()
    spk[[s is None or s != s for s in spk]] = None
    return spk


def normalise(X: np.ndarray, mode: str, train: np.ndarray, speakers=None, pool=None,
              pool_speakers=None) -> np.ndarray:
    return fit_normaliser(X, mode, train, speakers, pool, pool_speakers)[0]


def fit_normaliser(X: np.ndarray, mode: str, train: np.ndarray, speakers=None, pool=None,
                   pool_speakers=None) -> tuple[np.ndarray, ZScore | None]:
    """The normalised rows and the z-score a saved model applies to new media. Under
    ``speaker`` that is the training rows' statistics: at predict time the speaker is unknown."""
    if mode == "fold":
        z = ZScore.fit(X[train])
        return z.apply(X), z
    if mode == "speaker":
        return speaker_standardise(X, speakers, train, pool, pool_speakers)[0], ZScore.fit(X[train])
    return X.astype(np.float32), None


def early_fusion(parts: list):
    """Blocks side by side for a head that takes one matrix. A z-scored block of d features
    has squared norm ~d, an L2-normed TF-IDF row has norm 1; without balancing, the widest
    block drowns the others, so each dense block is divided by the square root of its width."""
    import scipy.sparse as sp

    if len(parts) > 1:
        parts = [p if sp.issparse(p) else p / np.sqrt(max(p.shape[1], 1)) for p in parts]
    if any(sp.issparse(p) for p in parts):
        return sp.hstack([sp.csr_matrix(p) if not sp.issparse(p) else p for p in parts]).tocsr()
    return np.hstack(parts)


#: modes that use the unlabelled features of test utterances (reports must say so)
TRANSDUCTIVE = ("speaker",)


def describe(mode: str) -> str:
    return {
        "fold": "standardisation fitted on the training fold",
        "speaker": "per-speaker standardisation (each speaker's mean/std over all of that speaker's "
                   "utterances in the corpus, test speakers included, no labels used: transductive; "
                   "speakers with one utterance use the training fold's statistics)",
        "none": "none",
    }[mode]
