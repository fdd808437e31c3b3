"""Dialogue order: the ``dialogue`` / ``turn`` / ``speaker`` columns that context heads read.

Conversational corpora (IEMOCAP, MELD, EmotionTalk, demo_dialog) write one row per
utterance with its dialogue id, its turn (an integer, its rank in the dialogue) and its
speaker. A context model is only as right as that order, so adapters check it while
reading (:func:`check_turns`), folds are checked to keep whole dialogues
(:func:`check_fold_dialogues`) and a context head on a corpus without dialogues is refused
(:func:`require_dialogues`) instead of silently treating every utterance as its own dialogue.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CorpusError, ProtocolError, SpecError


def turn_gaps(df: pd.DataFrame) -> dict[str, list[int]]:
    """Dialogue -> the turn numbers missing between its first turn (or 0) and its last."""
    out = {}
    sub = df[df["dialogue"].notna() & df["turn"].notna()]
    for dia, t in sub.groupby(sub["dialogue"].astype(str), sort=True)["turn"]:
        have = set(int(x) for x in t)
        missing = sorted(set(range(0, max(have) + 1)) - have)
        if missing:
            out[dia] = missing
    return out


def check_turns(df: pd.DataFrame, where: str, issues=None, *, first: int = 0,
                gaps: bool = True) -> None:
    """Refuse a manifest whose dialogue order is broken; ``where`` names the file or folder.

    Every row with a dialogue needs an integer turn >= ``first``; turns are unique within a
    dialogue (two rows on one turn leave the order undefined: always an error). ``gaps``:
    turns run ``first, first+1, …`` without holes; a hole means the copy lost an utterance,
    so the context a model sees differs from the release. Under ``on_error='raise'`` a hole
    is an error naming the dialogue; under ``'skip'`` rows were dropped on purpose, holes
    follow, and :func:`gap_caveat` states them in the report.
    """
    has = df["dialogue"].notna()
    no_turn = has & df["turn"].isna()
    if no_turn.any():
        rid = df.loc[no_turn, "id"].iloc[0]
        raise CorpusError(f"{where}: utterance {rid} has a dialogue but no turn number "
                          f"({int(no_turn.sum())} in all)")
    sub = df[has]
    low = sub["turn"].astype("int64") < first
    if low.any():
        r = sub[low].iloc[0]
        raise CorpusError(f"{where}: dialogue {r['dialogue']}: turn {int(r['turn'])} of {r['id']} is below {first}")
    dup = sub.duplicated(["dialogue", "turn"], keep=False)
    if dup.any():
        d = sub[dup].sort_values(["dialogue", "turn"])
        first_dup = d.iloc[0]
        ids = d[(d["dialogue"] == first_dup["dialogue"]) & (d["turn"] == first_dup["turn"])]["id"]
        n_dia = d["dialogue"].nunique()
        raise CorpusError(f"{where}: dialogue {first_dup['dialogue']}: turn {int(first_dup['turn'])} "
                          f"appears twice ({', '.join(map(str, ids))}), so the dialogue order is "
                          f"undefined ({n_dia} dialogue(s) with duplicated turns); fix or remove "
                          "the duplicates")
    if not gaps or (issues is not None and issues.on_error != "raise"):
        return
    holes = turn_gaps(sub.assign(turn=sub["turn"].astype("int64") - first))
    if holes:
        dia, miss = next(iter(holes.items()))
        shown = ", ".join(str(m + first) for m in miss[:5])
        raise CorpusError(f"{where}: dialogue {dia} lacks turn(s) {shown} ({len(holes)} dialogue(s) "
                          "with missing turns in all): the copy lost utterances, so a context model "
                          "would see another conversation than the release. Set on_error='skip' to "
                          "use the dialogues as they are (the report lists the gaps)")


def gap_caveat(df: pd.DataFrame, first: int = 0) -> list[str]:
    """The report line for dialogues with missing turns (none: an empty list)."""
    if "dialogue" not in df or df["dialogue"].isna().all():
        return []
    sub = df[df["dialogue"].notna() & df["turn"].notna()]
    holes = turn_gaps(sub.assign(turn=sub["turn"].astype("int64") - first))
    if not holes:
        return []
    eg = ", ".join(f"{d} (turn {h[0] + first})" for d, h in list(holes.items())[:3])
    return [f"{len(holes)} dialogue(s) have missing turns, e.g. {eg}: context heads see them "
            "without those utterances"]


def require_dialogues(df: pd.DataFrame, corpus: str, head: str) -> None:
    """A context head needs every row's dialogue, turn and speaker."""
    cols = ("dialogue", "turn", "speaker")
    absent = [c for c in cols if c not in df.columns or df[c].isna().all()]
    if absent:
        from .corpora import corpus_names, get_corpus

        conv = [n for n in corpus_names() if getattr(get_corpus(n), "conversational", False)]
        raise SpecError(f"head '{head}' models conversation context, but corpus '{corpus}' has no "
                        f"dialogue order ({', '.join(absent)} empty). Use a corpus with dialogues "
                        f"({', '.join(conv)}) or an utterance-level head (linear, concat, …)")
    for c in cols:
        bad = df[c].isna()
        if bad.any():
            raise SpecError(f"head '{head}': utterance {df.loc[bad, 'id'].iloc[0]} of corpus '{corpus}' "
                            f"has no {c} ({int(bad.sum())} in all); a context head needs the dialogue "
                            "order of every row")


def check_fold_dialogues(df: pd.DataFrame, fold) -> None:
    """Each dialogue lies wholly in train, valid or test: a context head must never see the
    other turns of a test conversation while training, nor validate on half a dialogue."""
    part = np.full(len(df), -1)
    for k, idx in enumerate((fold.train, fold.valid, fold.test)):
        part[idx] = k
    used = part >= 0
    d = pd.DataFrame({"dialogue": df["dialogue"].astype(str).to_numpy()[used], "part": part[used]})
    n = d.groupby("dialogue")["part"].nunique()
    split = n[n > 1]
    if len(split):
        names = ("train", "valid", "test")
        dia = split.index[0]
        parts = sorted({names[p] for p in d.loc[d["dialogue"] == dia, "part"]})
        raise ProtocolError(f"fold {fold.name}: dialogue {dia} is split across {' and '.join(parts)} "
                            f"({len(split)} dialogue(s) in all); a context head needs whole dialogues. "
                            "Group folds by a unit that holds whole dialogues (protocol.group = "
                            "\"session\" or \"dialogue\") and validate on whole dialogues "
                            "(protocol.valid_unit = \"dialogue\")")
