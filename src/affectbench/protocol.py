"""Protocols turn a manifest into folds (train, valid, test).

Rules this module enforces, because published numbers depend on them:
- validation is carved from the training groups, never from the test fold;
- a protocol that claims speaker independence refuses any fold in which a
  speaker appears in both the test fold and train/valid;
- an official split that is not speaker-independent (MELD, EmotionTalk) is
  allowed, and each fold records how many test speakers were seen in training.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ProtocolError, SpecError

KINDS = ("loso", "logo", "folds", "official")


@dataclass
class Fold:
    name: str
    train: np.ndarray  # row positions into the view's frame
    valid: np.ndarray
    test: np.ndarray
    test_groups: list[str]
    valid_groups: list[str]
    speaker_independent: bool
    test_speakers_seen_in_training: int
    fingerprint: str = ""
    meta: dict = field(default_factory=dict)


def fold_fingerprint(ids: pd.Series, fold: Fold) -> str:
    h = hashlib.sha256()
    for part in (fold.train, fold.valid, fold.test):
        h.update("\n".join(sorted(ids.iloc[part].astype(str))).encode())
        h.update(b"|")
    return h.hexdigest()[:16]


def make_folds(df: pd.DataFrame, kind: str = "loso", *, group: str = "speaker",
               valid_groups: int = 1, folds: list[list[str]] | None = None,
               seed: int = 0, splits: tuple[str, str, str] = ("train", "dev", "test"),
               speaker_independent: bool | None = None, missing_groups: str = "raise") -> list[Fold]:
    """Build folds over ``df`` (a label view's frame, one row per utterance).

    kind:
      - ``loso``: leave one speaker out (group = speaker);
      - ``logo``: leave one ``group`` out (e.g. session);
      - ``folds``: fixed test folds, each a list of ``group`` values (e.g. RAVDESS actors);
      - ``official``: the corpus's train/dev/test split (``splits`` names them).
    ``valid_groups`` training groups are held out for validation (early stopping).
    ``missing_groups="drop"`` lets fixed folds name groups that have no utterances left (all
    their files were skipped as unreadable); a fold left with no test group is dropped.
    """
    if kind not in KINDS:
        raise SpecError(f"unknown protocol kind '{kind}'. Valid: {', '.join(KINDS)}")
    if kind == "official":
        return [_official(df, splits, speaker_independent)]
    if kind == "loso":
        group = "speaker"
    if group not in df.columns:
        raise SpecError(f"protocol group column '{group}' is not a manifest column")
    g = df[group].astype(object)
    if g.isna().any():
        rid = df["id"][g.isna()].iloc[0]
        raise ProtocolError(f"protocol '{kind}' groups by {group}, but utterance {rid} has no {group}")
    g = g.astype(str).to_numpy()
    uniq = sorted(set(g))
    if kind == "folds":
        if not folds:
            raise SpecError("protocol kind 'folds' needs protocol.folds = [[group, ...], ...]")
        test_sets = [[str(x) for x in f] for f in folds]
        missing = sorted({x for f in test_sets for x in f} - set(uniq))
        if missing and missing_groups != "drop":
            raise ProtocolError(f"fixed folds name {group} values not in the data: {missing}")
        test_sets = [[x for x in f if x in set(uniq)] for f in test_sets]
        test_sets = [f for f in test_sets if f]
    else:
        test_sets = [[u] for u in uniq]
    if len(test_sets) < 2:
        raise ProtocolError(f"protocol '{kind}' needs at least 2 {group} groups, found {len(uniq)}")
    claim = True if speaker_independent is None else speaker_independent
    rng = np.random.default_rng(seed)
    out = []
    for k, test_groups in enumerate(test_sets):
        rest = [u for u in uniq if u not in set(test_groups)]
        if valid_groups >= len(rest):
            raise ProtocolError(
                f"valid_groups={valid_groups} leaves no training {group} in fold {k}")
        # Validation groups come from the training side only; a seeded choice so that
        # every fold does not validate on the same group.
        vg = sorted(rng.choice(rest, size=valid_groups, replace=False).tolist()) if valid_groups else []
        test = np.flatnonzero(np.isin(g, test_groups))
        valid = np.flatnonzero(np.isin(g, vg))
        train = np.flatnonzero(~np.isin(g, test_groups + vg))
        name = "+".join(test_groups) if len(test_groups) <= 3 else f"fold{k + 1}"
        fold = Fold(name, train, valid, test, list(test_groups), vg, claim, 0)
        _check(df, fold, kind)
        fold.fingerprint = fold_fingerprint(df["id"], fold)
        out.append(fold)
    return out


def _official(df: pd.DataFrame, splits, speaker_independent) -> Fold:
    tr, va, te = splits
    if df["split"].isna().all():
        raise ProtocolError("protocol 'official' needs a corpus with an official split; this one has none")
    s = df["split"].astype(object).to_numpy()
    train, valid, test = (np.flatnonzero(s == x) for x in (tr, va, te))
    for name, idx in (("train", train), ("test", test)):
        if len(idx) == 0:
            raise ProtocolError(f"official split '{name}' ({dict(zip(('train','valid','test'), splits))[name]}) is empty")
    fold = Fold("official", train, valid, test, [te], [va] if len(valid) else [],
                bool(speaker_independent), 0)
    _check(df, fold, "official")
    fold.fingerprint = fold_fingerprint(df["id"], fold)
    return fold


def _check(df: pd.DataFrame, fold: Fold, kind: str) -> None:
    ids = df["id"].to_numpy()
    if set(ids[fold.valid]) & set(ids[fold.test]) or set(ids[fold.train]) & set(ids[fold.test]):
        raise ProtocolError(f"fold {fold.name}: test utterances also in train/valid")
    spk = df["speaker"].astype(object)
    if spk.isna().all():
        fold.test_speakers_seen_in_training = 0
        if fold.speaker_independent:
            raise ProtocolError(f"fold {fold.name}: protocol '{kind}' claims speaker independence "
                                "but the corpus has no speaker ids")
        return
    seen = set(spk.iloc[np.concatenate([fold.train, fold.valid])].dropna())
    test_spk = set(spk.iloc[fold.test].dropna())
    overlap = sorted(seen & test_spk)
    fold.test_speakers_seen_in_training = len(overlap)
    if fold.speaker_independent and overlap:
        raise ProtocolError(
            f"fold {fold.name}: protocol '{kind}' claims speaker independence, but speakers "
            f"{overlap[:5]} are in both the test fold and train/valid. Group folds by speaker "
            "(or by a unit that nests speakers, e.g. session), or set "
            "protocol.speaker_independent = false to report it as speaker-dependent.")
