"""SAVEE (Surrey Audio-Visual Expressed Emotion), read from either layout users have.

- **Release** (from the Surrey registration page): ``AudioData/DC/a01.wav`` (speaker
  folder DC, JE, JK or KL; emotion code a anger, d disgust, f fear, h happiness,
  n neutral, sa sadness, su surprise; sentence number), with the clips in
  ``AudioVisualClip/DC/a01.avi`` where a copy has them.
- **Kaggle copy** (what EmoBox reads): one flat folder of ``DC_a01.wav`` files
  (``ALL/`` or the root itself).

4 male speakers × (30 neutral + 15 per other emotion) = 480 utterances. id =
``DC_a01`` in both layouts; speaker = session = DC/JE/JK/KL; dialogue = emotion
code + number (the sentence: the 15 sentences of an emotion are shared by all four
speakers). Default protocol: leave one speaker out, 4 folds — the same folds as
EmoBox (its rule for 4–6 speakers is leave-one-speaker-out).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from .base import register

SPEAKERS = ("DC", "JE", "JK", "KL")
CODES = {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad",
         "su": "surprise"}
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
RELEASE = re.compile(r"^(sa|su|a|d|f|h|n)(\d\d)\.wav$")
FLAT = re.compile(r"^([A-Z]{2})_(sa|su|a|d|f|h|n)(\d\d)\.wav$")


@register
class SAVEE(FileNamedCorpus):
    name = "savee"
    title = "SAVEE"
    description = "Surrey Audio-Visual Expressed Emotion: 4 male speakers, 7 emotions, British English (audio, video)."
    modalities = ("audio", "video")
    language = "en"
    licence = "research use after registration (University of Surrey)"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "loso"}
    expected = {"total": 480, "speaker": {s: 120 for s in SPEAKERS},
                "label": {"neutral": 120, **{c: 60 for c in CLASSES if c != "neutral"}}}
    unverified = frozenset({"speaker", "label"})
    layout_hint = ("AudioData/DC/a01.wav … (speaker folders DC JE JK KL; codes a d f h n sa su + number), "
                   "or the flat Kaggle copy DC_a01.wav …; 480 files")
    bad_what = "not a valid SAVEE file name: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 SAVEE emotions"),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def parse(self, path: Path, base: Path) -> dict | None:
        if (m := FLAT.match(path.name)):
            spk, code, num = m.groups()
        elif path.parent.name in SPEAKERS and (m := RELEASE.match(path.name)):
            spk, (code, num) = path.parent.name, m.groups()
        elif path.parent.name in SPEAKERS or "_" in path.name:
            raise ValueError("not <code><nn>.wav in a speaker folder (AudioData/DC/a01.wav) nor "
                             "SPEAKER_<code><nn>.wav (DC_a01.wav)")
        else:
            return None  # e.g. an info file's audio sample outside the corpus folders
        if spk not in SPEAKERS:
            raise ValueError(f"speaker '{spk}' is not one of {', '.join(SPEAKERS)}")
        video = base / "AudioVisualClip" / spk / f"{code}{num}.avi"
        return {"id": f"{spk}_{code}{num}", "speaker": spk, "session": spk, "dialogue": f"{code}{num}",
                "audio": str(path), "video": str(video) if video.is_file() else None,
                "language": "en", "label": CODES[code]}
