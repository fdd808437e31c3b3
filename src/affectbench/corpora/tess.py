"""TESS (Toronto Emotional Speech Set), read from the layout the Borealis/Kaggle archives extract to.

``OAF_angry/OAF_back_angry.wav`` … ``YAF_pleasant_surprised/YAF_back_ps.wav``: two
actresses (OAF aged 64, YAF aged 26) say "Say the word ___" for 200 target words
in 7 emotions = 2800 files. Folder names vary in case and spelling between copies
(``OAF_Fear``, ``OAF_Pleasant_surprise``, ``YAF_pleasant_surprised``), so only the
*file* name is read: speaker_word_emotion, emotion one of angry disgust fear happy
neutral ps (pleasant surprise) sad. The folders may sit in the root or one level
down (``TESS Toronto emotional speech set data/``).

Decisions:

- id = file stem; speaker = OAF/YAF; dialogue = the target word; text = "Say the
  word <word>".
- session = speaker + word block (``OAF-b2``): block = CRC-32 of the word mod 4.
  It exists for the protocol only (below).
- Default protocol: leave one speaker out (2 folds, test OAF / test YAF). With two
  speakers there is no third to validate on, so validation is one word block of
  the *training* speaker (``valid_unit = "group"`` over sessions) and the test
  speaker is never seen in training. EmoBox's TESS split is a random 25 % of
  utterances, not speaker-independent, so it is not used.
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path

from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from .base import register

NAME = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_([A-Za-z]+)\.wav$", re.IGNORECASE)
EMOTIONS = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
            "neutral": "neutral", "ps": "surprise", "sad": "sad"}
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "surprise", "sad")
BLOCKS = 4


def word_block(word: str) -> int:
    """The validation block of a word: stable across copies and machines (CRC-32, not hash())."""
    return zlib.crc32(word.lower().encode()) % BLOCKS


@register
class TESS(FileNamedCorpus):
    name = "tess"
    title = "TESS"
    description = "Toronto Emotional Speech Set: 2 actresses, 200 words, 7 emotions, English (audio)."
    modalities = ("audio",)
    language = "en"
    licence = "CC BY-NC-ND 4.0"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "folds", "group": "session", "valid_unit": "group",
                        "folds": [[f"OAF-b{b}" for b in range(BLOCKS)],
                                  [f"YAF-b{b}" for b in range(BLOCKS)]]}
    expected = {"total": 2800, "label": {c: 400 for c in CLASSES}, "speaker": {"OAF": 1400, "YAF": 1400}}
    layout_hint = ("OAF_angry/OAF_back_angry.wav … YAF_sad/YAF_youth_sad.wav (14 speaker_emotion folders, "
                   "2800 files named speaker_word_emotion.wav; emotion ps = pleasant surprise)")
    bad_what = "not a valid TESS file name: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 TESS emotions (ps = surprise)"),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def parse(self, path: Path, base: Path) -> dict:
        m = NAME.match(path.name)
        if not m:
            raise ValueError("not SPEAKER_WORD_EMOTION.wav (e.g. OAF_back_angry.wav)")
        spk, word, emo = m.group(1).upper(), m.group(2).lower(), m.group(3).lower()
        if emo not in EMOTIONS:
            raise ValueError(f"emotion '{emo}' is not one of {', '.join(EMOTIONS)}")
        return {"id": path.stem, "speaker": spk, "session": f"{spk}-b{word_block(word)}",
                "dialogue": word, "audio": str(path), "text": f"Say the word {word}",
                "language": "en", "label": EMOTIONS[emo]}

    def caveats(self, df):
        return ["2 speakers only: speaker-independent results rest on one test speaker per fold"]
