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
               speaker_independent: bool | None = None, valid_unit: str = "",
               known_groups: list[str] | None = None) -> list[Fold]:
    """Build folds over ``df`` (a label view's frame, one row per utterance).

    kind:
      - ``loso``: leave one speaker out (group = speaker);
      - ``logo``: leave one ``group`` out (e.g. session);
      - ``folds``: fixed test folds, each a list of ``group`` values (e.g. RAVDESS actors);
      - ``official``: the corpus's train/dev/test split (``splits`` names them).
    ``valid_groups`` units are held out of each fold's training side for validation (early
    stopping, hyper-parameters). ``valid_unit`` is what such a unit is: ``"group"`` holds out
    whole groups, ``"speaker"`` holds out speakers inside the training groups. The default
    (``""``) is ``"speaker"`` when the corpus has speaker ids, so that leave-one-session-out
    trains on every training session instead of losing a whole session to validation.
    ``known_groups``: every group of the corpus before unreadable files were dropped; a fixed
    fold may name a group all of whose files were skipped (that fold is then dropped).
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
        test_sets = _fixed_test_sets(folds, uniq, group, known_groups)
    else:
        test_sets = [[u] for u in uniq]
    if len(test_sets) < 2:
        raise ProtocolError(f"protocol '{kind}' needs at least 2 {group} groups, found {len(uniq)}")
    unit = _valid_unit(df, valid_unit, group)
    units = g if unit == "group" else df["speaker"].astype(str).to_numpy()
    claim = True if speaker_independent is None else speaker_independent
    rng = np.random.default_rng(seed)
    out = []
    for k, test_groups in enumerate(test_sets):
        is_test = np.isin(g, test_groups)
        rest = sorted(set(units[~is_test]))
        if valid_groups >= len(rest):
            raise ProtocolError(f"valid_groups={valid_groups} leaves no training {unit} in fold {k + 1} "
                                f"(test {group} {', '.join(test_groups)}): lower protocol.valid_groups")
        # Validation comes from the training side only; a seeded choice so that every fold
        # does not validate on the same unit.
        vg = sorted(rng.choice(rest, size=valid_groups, replace=False).tolist()) if valid_groups else []
        test = np.flatnonzero(is_test)
        valid = np.flatnonzero(~is_test & np.isin(units, vg))
        train = np.flatnonzero(~is_test & ~np.isin(units, vg))
        name = "+".join(test_groups) if len(test_groups) <= 3 else f"fold{k + 1}"
        fold = Fold(name, train, valid, test, list(test_groups), vg, claim, 0,
                    meta={"valid_unit": unit if valid_groups else "none"})
        _check(df, fold, kind)
        fold.fingerprint = fold_fingerprint(df["id"], fold)
        out.append(fold)
    return out


def _valid_unit(df: pd.DataFrame, valid_unit: str, group: str) -> str:
    if valid_unit not in ("", "group", "speaker"):
        raise SpecError(f"protocol.valid_unit = {valid_unit!r} is not one of group, speaker")
    has_speakers = "speaker" in df.columns and df["speaker"].notna().all()
    if valid_unit == "speaker" and not has_speakers:
        raise ProtocolError("protocol.valid_unit = 'speaker', but some utterances have no speaker id")
    if group == "speaker":
        return "speaker"
    if valid_unit == "":
        return "speaker" if has_speakers else "group"
    return valid_unit


def _fixed_test_sets(folds, uniq: list[str], group: str, known_groups) -> list[list[str]]:
    """Fixed test folds must partition the groups: every group tested exactly once.

    A repeated or overlapping group would score utterances twice, a missing one would
    never be tested, an unknown one is a typo; each would still print a number.
    """
    if not folds:
        raise SpecError("protocol kind 'folds' needs protocol.folds = [[group, ...], ...]")
    test_sets = [[str(x) for x in f] for f in folds]
    seen: dict[str, int] = {}
    for i, f in enumerate(test_sets):
        if not f:
            raise ProtocolError(f"protocol.folds: fold {i + 1} is empty")
        for x in f:
            if x in seen:
                where = f"twice in fold {i + 1}" if seen[x] == i else f"in folds {seen[x] + 1} and {i + 1}"
                raise ProtocolError(f"protocol.folds: {group} '{x}' is {where}; each {group} must be "
                                    "tested exactly once")
            seen[x] = i
    present = set(uniq)
    known = present | set(map(str, known_groups or ()))
    unknown = sorted(set(seen) - known)
    if unknown:
        raise ProtocolError(f"protocol.folds names {group} values that are not in the data: {unknown}. "
                            f"Valid: {', '.join(sorted(known))}")
    untested = sorted(present - set(seen))
    if untested:
        raise ProtocolError(f"protocol.folds never tests {group} {untested} ({int(len(untested))} of "
                            f"{len(present)}): every {group} must be in exactly one fold")
    return [f for f in ([x for x in f if x in present] for f in test_sets) if f]


def _official(df: pd.DataFrame, splits, speaker_independent) -> Fold:
    tr, va, te = splits
    if df["split"].isna().all():
        raise ProtocolError("protocol 'official' needs a corpus with an official split; this one has none")
    s = df["split"].astype(object).to_numpy()
    train, valid, test = (np.flatnonzero(s == x) for x in (tr, va, te))
    for name, idx in (("train", train), ("validation", valid), ("test", test)):
        if len(idx) == 0:
            what = dict(zip(("train", "validation", "test"), splits))[name]
            raise ProtocolError(
                f"official split: the {name} set ('{what}') is empty, so "
                + ("the head would train without early stopping" if name == "validation" else
                   "there is nothing to " + ("train on" if name == "train" else "score"))
                + f". Every '{what}' utterance was dropped (unreadable media or labels outside the "
                "view; see the skipped files) or the copy has no such split")
    fold = Fold("official", train, valid, test, [te], [va] if len(valid) else [],
                bool(speaker_independent), 0)
    _check(df, fold, "official")
    fold.fingerprint = fold_fingerprint(df["id"], fold)
    return fold


def _check(df: pd.DataFrame, fold: Fold, kind: str) -> None:
    ids = df["id"].to_numpy()
    for part, idx in (("test", fold.test), ("training", fold.train)):
        if len(idx) == 0:
            raise ProtocolError(f"fold {fold.name}: the {part} set is empty (after unreadable or "
                                "unlabelled utterances were dropped); nothing can be trained or scored")
    if set(ids[fold.valid]) & set(ids[fold.test]) or set(ids[fold.train]) & set(ids[fold.test]):
        raise ProtocolError(f"fold {fold.name}: test utterances also in train/valid")
    spk = df["speaker"].astype(object)
    if spk.isna().all():
        fold.test_speakers_seen_in_training = 0
        if fold.speaker_independent:
            raise ProtocolError(f"fold {fold.name}: protocol '{kind}' claims speaker independence "
                                "but the corpus has no speaker ids")
        return
    no_spk = int(spk.iloc[np.concatenate([fold.train, fold.valid, fold.test])].isna().sum())
    fold.meta["rows_without_speaker"] = no_spk
    if no_spk and fold.speaker_independent:
        raise ProtocolError(f"fold {fold.name}: protocol '{kind}' claims speaker independence, but "
                            f"{no_spk} utterance(s) have no speaker id, so it cannot be checked. Set "
                            "protocol.speaker_independent = false to report it as not checked.")
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


def final_fold(df: pd.DataFrame, kind: str = "loso", *, group: str = "speaker", valid_groups: int = 1,
               seed: int = 0, splits: tuple[str, str, str] = ("train", "dev", "test"),
               valid_unit: str = "") -> Fold:
    """The fold a model that leaves the run is fitted on: all of the protocol's training data
    (every group; the official train split), validation carved from it as every fold's is
    (the official dev split; else ``valid_groups`` seeded units), and no test rows."""
    if kind not in KINDS:
        raise SpecError(f"unknown protocol kind '{kind}'. Valid: {', '.join(KINDS)}")
    empty = np.array([], np.int64)
    if kind == "official":
        s = df["split"].astype(object).to_numpy()
        train, valid = np.flatnonzero(s == splits[0]), np.flatnonzero(s == splits[1])
        if len(train) == 0:
            raise ProtocolError(f"official split: no '{splits[0]}' utterances to fit the model on")
        return Fold("final", train, valid, empty, [], [splits[1]] if len(valid) else [], False, 0,
                    meta={"valid_unit": "official"})
    if kind == "loso":
        group = "speaker"
    unit = _valid_unit(df, valid_unit, group)
    units = (df[group] if unit == "group" else df["speaker"]).astype(str).to_numpy()
    rest = sorted(set(units))
    if valid_groups >= len(rest):
        raise ProtocolError(f"valid_groups={valid_groups} leaves no training {unit} for the final model")
    rng = np.random.default_rng(seed)
    vg = sorted(rng.choice(rest, size=valid_groups, replace=False).tolist()) if valid_groups else []
    valid = np.isin(units, vg)
    return Fold("final", np.flatnonzero(~valid), np.flatnonzero(valid), empty, [], vg, False, 0,
                meta={"valid_unit": unit if valid_groups else "none"})
