"""EmotionLines (Hsu et al., LREC 2018): Friends scripts and EmotionPush chats, native JSON.

The release holds two sub-corpora of 1000 dialogues each, one JSON per split::

    Friends/friends_{train,dev,test}.json
    EmotionPush/emotionpush_{train,dev,test}.json

(The EmotionX 2019 copy holds ``friends.json`` / ``emotionpush.json`` with all 1000 dialogues
of a source and no split; it is read with ``split`` empty, and ``*_augmented.json`` is not read.)

Each file is a list of dialogues; a dialogue is a list of utterances
``{"speaker": …, "utterance": …, "emotion": …, "annotation": "4100000"}`` (``annotation``:
the five raters' votes over neutral, joy, sadness, fear, anger, surprise, disgust).
Emotions: the 7 above plus ``non-neutral`` (no majority among emotional votes).

Rows: id ``friends_train_0001_03`` (source, split, dialogue, turn); ``session`` = source
(``friends`` / ``emotionpush``); ``dialogue``; ``turn``; ``speaker``: Friends characters
by name; EmotionPush speakers are anonymised per chat, so their id is scoped to the
dialogue (``emotionpush_train_0001:A``); ``votes`` = the annotation string; ``label`` =
emotion as released. ``EmotionLines(source="friends")`` or ``"emotionpush"`` reads one
sub-corpus. Protocol: the official split (720 / 80 / 200 dialogues per source); the
Friends characters recur in every split, so it is not speaker-independent.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, not_root, read_text, shared_view
from .base import SKIP_HINT, Corpus, register

SOURCES = {"friends": ("Friends", "friends"), "emotionpush": ("EmotionPush", "emotionpush")}
SPLITS = ("train", "dev", "test")
EMOTIONS = ("neutral", "joy", "sadness", "fear", "anger", "surprise", "disgust", "non-neutral")
CANONICAL = {"neutral": "neutral", "joy": "happy", "sadness": "sad", "fear": "fear", "anger": "angry",
             "surprise": "surprise", "disgust": "disgust", "non-neutral": None}
#: utterances per source and split (EmotionLines paper, Table 2)
COUNTS = {"friends": {"train": 10561, "dev": 1178, "test": 2764},
          "emotionpush": {"train": 10733, "dev": 1202, "test": 2807}}


def _expected(sources) -> dict:
    return {"total": sum(sum(COUNTS[s].values()) for s in sources),
            "session": {s: sum(COUNTS[s].values()) for s in sources},
            "split": {sp: sum(COUNTS[s][sp] for s in sources) for sp in SPLITS}}


@register
class EmotionLines(Corpus):
    name = "emotionlines"
    title = "EmotionLines"
    description = ("Friends TV scripts + EmotionPush Messenger chats, 2000 dialogues, 7 emotions + "
                   "non-neutral, official train/dev/test (text).")
    modalities = ("text",)
    language = "en"
    licence = "research use (EmotionLines terms; Friends scripts © Warner Bros.; EmotionPush chats anonymised)"
    canonical = CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = _expected(SOURCES)
    #: the total (29 245, paper abstract) is confirmed; the per-source and per-split counts are
    #: our reading of the paper's Table 2
    unverified = frozenset({"session", "split"})
    layout_hint = ("Friends/friends_{train,dev,test}.json and EmotionPush/emotionpush_{train,dev,test}.json "
                   "(lists of dialogues of {speaker, utterance, emotion, annotation})")
    labelset = LabelSet(EMOTIONS, {
        "seven": LabelView.identity("seven", EMOTIONS[:7], "the 7 emotions (non-neutral dropped)",
                                    drop=("non-neutral",)),
        "four": LabelView.identity("four", ("neutral", "joy", "sadness", "anger"),
                                   "EmotionX: neutral/joy/sadness/anger",
                                   drop=("fear", "surprise", "disgust", "non-neutral")),
        "shared": shared_view(CANONICAL),
    }, default_view="seven")

    def __init__(self, source: str = "both"):
        if source not in ("both", *SOURCES):
            raise CorpusError(f"emotionlines: source must be both, friends or emotionpush, not {source!r}")
        self.sources = tuple(SOURCES) if source == "both" else (source,)
        self.expected = _expected(self.sources)
        if source != "both":
            self.unverified = frozenset({"total", "session", "split"})

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        rows, found = [], False
        for src in self.sources:
            folder, prefix = SOURCES[src]
            d = find_dir(root, folder, depth=2) or (root if (root / f"{prefix}_train.json").is_file() else None)
            for split in SPLITS:
                path = d / f"{prefix}_{split}.json" if d is not None else None
                if path is None or not path.is_file():
                    continue  # a partial copy: check() reports it
                found = True
                rows += self._file(path, src, split, issues)
            whole = d / f"{prefix}.json" if d is not None else None
            if whole is not None and whole.is_file() and not any((d / f"{prefix}_{s}.json").is_file() for s in SPLITS):
                found = True  # the EmotionX 2019 copy: all 1000 dialogues in one file, no split
                rows += self._file(whole, src, None, issues)
        if not found:
            raise not_root(root, self.title, "no Friends/friends_*.json or EmotionPush/emotionpush_*.json",
                           self.layout_hint)
        return normalize(rows, self.name)

    def _file(self, path: Path, src: str, split: str, issues) -> list[dict]:
        try:
            data = json.loads(read_text(path))
        except json.JSONDecodeError as e:
            raise CorpusError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
        if not isinstance(data, list):
            raise CorpusError(f"{path}: expected a list of dialogues, found {type(data).__name__}")
        rows = []
        for d, dialogue in enumerate(data):
            dia = f"{src}_{split or 'all'}_{d:04d}"
            for t, u in enumerate(dialogue if isinstance(dialogue, list) else [None]):
                why = _bad(u)
                if why:
                    issues.problem(f"{path}[{d}][{t}]", why, f"{path}: dialogue {d}, utterance {t}: {why}{SKIP_HINT}")
                    continue
                spk = str(u["speaker"]).strip()
                rows.append({"id": f"{dia}_{t:02d}", "session": src, "dialogue": dia, "turn": t,
                             "split": split, "speaker": spk if src == "friends" else f"{dia}:{spk}",
                             "text": str(u["utterance"]), "language": "en",
                             "label": u["emotion"].strip().lower(), "votes": str(u.get("annotation", "")) or None})
        return rows

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = ["official split, not speaker-independent: the Friends characters speak in every split"]
        if df["split"].isna().any():
            out.append("EmotionX 2019 copy (friends.json / emotionpush.json): no official split; "
                       "use a dialogue-grouped protocol (logo over dialogue) instead of 'official'")
        if len(self.sources) == 2:
            out.append("Friends (TV scripts) and EmotionPush (private chats) are pooled; "
                       "report them apart with source='friends' / 'emotionpush' for EmotionX comparisons")
        return out


def _bad(u) -> str:
    if not isinstance(u, dict):
        return "not an utterance object {speaker, utterance, emotion, annotation}"
    missing = [k for k in ("speaker", "utterance", "emotion") if k not in u]
    if missing:
        return f"no {', '.join(missing)}"
    if str(u["emotion"]).strip().lower() not in EMOTIONS:
        return f"emotion {u['emotion']!r} is not one of {', '.join(EMOTIONS)}"
    return ""
