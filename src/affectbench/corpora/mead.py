"""MEAD (Wang et al., ECCV 2020): 60 actors, 8 emotions × 3 intensities, 7 camera views.

The release ships one folder per actor (``M003`` … actors, ``W009`` … actresses) holding
``video.tar`` and ``audio.tar``; extracted, they give::

    M003/video/<view>/<emotion>/level_<k>/001.mp4     views: front down left_30 left_60
                                                        right_30 right_60 top
    M003/audio/<emotion>/level_<k>/001.m4a             AAC, one per take (all views share it)

Emotions: angry contempt disgusted fear happy neutral sad surprised; neutral has level_1
only. A still-packed ``video.tar``/``audio.tar`` is refused with a message that says to
extract it (archives are never unpacked by the adapter).

Rows: one per take (actor, emotion, level, sentence number): id ``M003_angry_level_1_001``;
``speaker`` = actor; ``audio`` = the m4a (decoded with PyAV); ``video`` = the clip of the
chosen view (``MEAD(view="front")`` by default); ``meta`` = ``{"intensity": k, "view": …}``.
Labels are the release's folder names; :attr:`MEAD.canonical` maps ``disgusted`` →
disgust, ``surprised`` → surprise.

Counts: the public release holds 48 of the paper's 60 actors; EmoBox counted 31 729 audio
takes on it (per emotion in :data:`AUDIO_TAKES`), which a complete copy must match (counted
on the takes that have audio).

Protocol: MEAD has no official split, and EmoBox's one MEAD split (``fold_1``) draws its test
utterances from nearly every actor, so it is not speaker-independent. Five speaker-disjoint
folds are built instead, by rule: actor
number *n* (``M003`` → 3, ``W011`` → 11) goes to ``fold((n - 1) mod 5 + 1)``, written into
``session``; the default protocol leaves one fold out (``logo`` over ``session``). The rule
depends on the id alone, so any copy of an actor lands in the same fold.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import fold_name, not_root, shared_view, visible
from .base import Corpus, is_hidden, register

ACTOR = re.compile(r"^([MW])(\d{3})$")
EMOTIONS = ("angry", "contempt", "disgusted", "fear", "happy", "neutral", "sad", "surprised")
VIEWS = ("front", "down", "left_30", "left_60", "right_30", "right_60", "top")
LEVELS = ("level_1", "level_2", "level_3")
TAKE = re.compile(r"^(\d{3})\.(mp4|m4a)$", re.IGNORECASE)
CANONICAL = {"angry": "angry", "contempt": "contempt", "disgusted": "disgust", "fear": "fear",
             "happy": "happy", "neutral": "neutral", "sad": "sad", "surprised": "surprise"}
FOLDS = 5
#: audio takes per emotion in the public release (48 of the paper's 60 actors): EmoBox's
#: data/mead/data.seg.wrd.freq, counted on a real copy (31 729 m4a files; the design is 30
#: sentences per emotion and level and 40 neutral, a few takes are missing)
AUDIO_TAKES = {"neutral": 1916, "angry": 4193, "happy": 4294, "fear": 4251, "contempt": 4215,
               "disgusted": 4284, "surprised": 4270, "sad": 4306}


@register
class MEAD(Corpus):
    name = "mead"
    title = "MEAD"
    description = ("Multi-view Emotional Audio-visual Dataset: 48 actors released (of 60), 8 emotions "
                   "at 3 intensities, 7 camera views, English (audio, video).")
    modalities = ("audio", "video")
    language = "en"
    licence = "non-commercial research only (MEAD terms of use)"
    canonical = CANONICAL
    default_protocol = {"kind": "logo", "group": "session"}
    #: counted on the takes that have audio (see :meth:`mismatches`)
    expected = {"total": sum(AUDIO_TAKES.values()), "label": AUDIO_TAKES}
    layout_hint = ("actor folders M003/, W009/ … (in the root or one level down) holding "
                   "video/<view>/<emotion>/level_<k>/001.mp4 and audio/<emotion>/level_<k>/001.m4a "
                   "(video.tar and audio.tar extracted)")
    labelset = LabelSet(EMOTIONS, {
        "all": LabelView.identity("all", EMOTIONS, "the 8 MEAD emotions"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def __init__(self, view: str = "front"):
        if view not in VIEWS:
            raise CorpusError(f"mead: view must be one of {', '.join(VIEWS)}, not {view!r}")
        self.view = view

    def actors(self, root: Path) -> list[Path]:
        out = [root / n for n in visible(root) if ACTOR.match(n) and (root / n).is_dir()]
        if not out:
            for sub in visible(root):
                if (root / sub).is_dir():
                    out += [root / sub / n for n in visible(root / sub) if ACTOR.match(n) and (root / sub / n).is_dir()]
        return out

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        actors = self.actors(root)
        if not actors:
            raise not_root(root, self.title, "no actor folders (M003, W009, …)", self.layout_hint)
        rows, bad = [], []
        for a in actors:
            packed = [a / t for t in ("video.tar", "audio.tar") if (a / t).is_file() and not (a / t[:-4]).is_dir()]
            if packed:
                raise CorpusError(f"{packed[0]}: still packed; extract it inside {a.name}/ "
                                  f"(tar -xf {packed[0].name}) so that {a.name}/{packed[0].stem}/ exists")
            rows += self._actor(a, bad)
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise not_root(root, self.title, "actor folders hold no takes", self.layout_hint)
        return normalize(rows, self.name)

    def _actor(self, a: Path, bad: list) -> list[dict]:
        sex, num = ACTOR.match(a.name).groups()
        takes: dict[tuple, dict] = {}
        for kind, base in (("audio", a / "audio"), ("video", a / "video" / self.view)):
            if not base.is_dir():
                continue
            for emo in visible(base):
                if emo not in EMOTIONS:
                    bad.append((base / emo, f"'{emo}' is not a MEAD emotion ({', '.join(EMOTIONS)})"))
                    continue
                for lvl in visible(base / emo):
                    d = base / emo / lvl
                    if lvl not in LEVELS or (emo == "neutral" and lvl != "level_1"):
                        bad.append((d, f"'{lvl}' is not a level of {emo}"))
                        continue
                    for n in os.listdir(d):
                        m = TAKE.match(n)
                        if is_hidden(n):
                            continue
                        if not m or (m.group(2).lower() == "mp4") != (kind == "video"):
                            bad.append((d / n, f"not a MEAD {kind} take (001.{'mp4' if kind == 'video' else 'm4a'})"))
                            continue
                        takes.setdefault((emo, lvl, m.group(1)), {})[kind] = str(d / n)
        session = fold_name(int(num), FOLDS)
        return [{"id": f"{a.name}_{e}_{lvl}_{n}", "speaker": a.name, "session": session,
                 "audio": t.get("audio"), "video": t.get("video"), "language": "en", "label": e,
                 "meta": json.dumps({"intensity": int(lvl[-1]), "view": self.view,
                                     "sex": "male" if sex == "M" else "female"})}
                for (e, lvl, n), t in sorted(takes.items())]

    def mismatches(self, df: pd.DataFrame) -> list[tuple[str, str]]:
        """The release's counts are of audio takes (EmoBox counted the m4a files): a take with a
        video but no audio must not make a complete copy look different."""
        return super().mismatches(df[df["audio"].notna()])

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = [f"speaker-disjoint folds built by rule (actor number mod {FOLDS}); MEAD has no official "
               "split, and EmoBox's single MEAD split is not speaker-independent",
               f"video = the '{self.view}' view; the other six views are not read"]
        for col in ("audio", "video"):
            n = int(df[col].isna().sum())
            if n:
                out.append(f"{n} of {len(df)} takes have no {col} file")
        return out
