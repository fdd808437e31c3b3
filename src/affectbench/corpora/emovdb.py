"""EmoV-DB (Emotional Voices Database), read from the sorted release as extracted.

Two layouts are in use: one folder per speaker and emotion, ``bea_Amused/`` (the
OpenSLR 115 archives ``bea_Amused.tar.gz`` … extract so; EmoBox reads this), or
``bea/Amused/`` (the "sorted" copy). Files are ``amused_1-15_0001.wav``: emotion,
recording batch, and the CMU ARCTIC sentence number. Speakers: bea, jenie (female),
josh, sam (male), English; emotions amused, angry, disgusted, neutral, sleepy
(josh recorded amused, neutral and sleepy only).

id = ``<speaker>_<emotion>_<stem>``; speaker = session = the speaker; dialogue =
the sentence number. Labels: ``disgusted`` becomes ``disgust``; ``amused`` and
``sleepy`` stay (no shared emotion name means the same); the shared label space
maps amused to happy and drops sleepy (``canonical``).

Default protocol: leave one speaker out (4 folds). EmoBox's EmoV-DB split is a
random 25 % of utterances (its rule for corpora whose emotions are unbalanced
across speakers), not speaker-independent, so it is not used.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from .base import register

SPEAKERS = ("bea", "jenie", "josh", "sam")
#: folder and file-name spellings (copies differ: Disgusted/disgust, anger/angry, sleepiness/sleepy)
EMOTIONS = {"amused": "amused", "amusement": "amused", "angry": "angry", "anger": "angry",
            "disgusted": "disgust", "disgust": "disgust", "neutral": "neutral", "sleepy": "sleepy",
            "sleepiness": "sleepy"}
CLASSES = ("amused", "angry", "disgust", "neutral", "sleepy")
NAME = re.compile(r"^([a-z]+)_(\d+)-(\d+)_(\d{4})\.wav$", re.IGNORECASE)


def folder_fields(path: Path) -> tuple[str, str] | None:
    """(speaker, emotion) from ``bea_Amused/x.wav`` or ``bea/Amused/x.wav``; None if neither."""
    parent = path.parent.name
    if "_" in parent and parent.split("_", 1)[0].lower() in SPEAKERS:
        spk, emo = parent.split("_", 1)
        return spk.lower(), emo.lower()
    if path.parent.parent.name.lower() in SPEAKERS:
        return path.parent.parent.name.lower(), parent.lower()
    return None


@register
class EmoVDB(FileNamedCorpus):
    name = "emovdb"
    title = "EmoV-DB"
    description = "Emotional Voices Database: 4 speakers, 5 emotions on CMU ARCTIC sentences, English (audio)."
    modalities = ("audio",)
    language = "en"
    licence = "as stated in the EmoV-DB repository / OpenSLR 115 (research use; cite the paper)"
    canonical = {"amused": "happy", "angry": "angry", "disgust": "disgust", "neutral": "neutral",
                 "sleepy": None}
    default_protocol = {"kind": "loso"}
    expected = {"total": 6887}
    layout_hint = ("bea_Amused/amused_1-15_0001.wav … (speaker_Emotion folders; speakers bea jenie josh sam, "
                   "emotions Amused Angry Disgusted Neutral Sleepy), or bea/Amused/…")
    bad_what = "not a valid EmoV-DB file: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 5 EmoV-DB emotions"),
    }, default_view="all")

    def parse(self, path: Path, base: Path) -> dict | None:
        fields = folder_fields(path)
        if fields is None:
            return None
        spk, emo = fields
        if emo not in EMOTIONS:
            raise ValueError(f"emotion folder '{emo}' is not one of amused, angry, disgusted, neutral, sleepy")
        m = NAME.match(path.name)
        if not m:
            raise ValueError("not emotion_a-b_NNNN.wav (e.g. amused_1-15_0001.wav)")
        if EMOTIONS.get(m.group(1).lower()) != EMOTIONS[emo]:
            raise ValueError(f"a '{m.group(1)}' file in the {emo} folder")
        return {"id": f"{spk}_{EMOTIONS[emo]}_{path.stem}", "speaker": spk, "session": spk,
                "dialogue": m.group(4), "audio": str(path), "language": "en", "label": EMOTIONS[emo]}
