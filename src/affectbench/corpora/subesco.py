"""SUBESCO (SUST Bangla Emotional Speech Corpus), read from the Zenodo archive as extracted.

One folder of 7000 files named ``F_01_OISHI_S_1_ANGRY_1.wav`` = sex (F/M),
speaker number (01–10 per sex), speaker name, sentence ``S_1``…``S_10``, emotion
(ANGRY DISGUST FEAR HAPPY NEUTRAL SAD SURPRISE), take (1–5). 20 speakers × 10
sentences × 7 emotions × 5 takes = 7000.

id = file stem; speaker = ``F_01``; dialogue = sentence ``S_1``.

Default protocol: EmoBox's five speaker folds, as published in its
``data/subesco/fold_k/subesco_test_fold_k.jsonl`` (4 speakers each; EmoBox drew them with
an unseeded shuffle, so they are frozen here rather than regenerated). speaker = session.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from .base import register

NAME = re.compile(r"^([FM])_(\d\d)_([A-Za-z]+)_S_(\d{1,2})_([A-Za-z]+)_(\d)\.wav$", re.IGNORECASE)
EMOTIONS = {"ANGRY": "angry", "DISGUST": "disgust", "FEAR": "fear", "HAPPY": "happy",
            "NEUTRAL": "neutral", "SAD": "sad", "SURPRISE": "surprise"}
CLASSES = tuple(EMOTIONS.values())
SPEAKERS = [f"{s}_{n:02d}" for s in "FM" for n in range(1, 11)]
#: the test speakers of EmoBox's data/subesco/fold_{1..5}/subesco_test_fold_k.jsonl
EMOBOX_FOLDS = [["F_03", "M_03", "M_08", "M_09"], ["F_01", "F_04", "F_10", "M_07"],
                ["F_06", "F_08", "M_05", "M_06"], ["F_05", "F_07", "F_09", "M_04"],
                ["F_02", "M_01", "M_02", "M_10"]]


@register
class SUBESCO(FileNamedCorpus):
    name = "subesco"
    title = "SUBESCO"
    description = "SUST Bangla Emotional Speech Corpus: 20 speakers, 10 sentences, 7 emotions, Bangla (audio)."
    modalities = ("audio",)
    language = "bn"
    licence = "CC BY 4.0"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "folds", "group": "speaker", "folds": EMOBOX_FOLDS}
    expected = {"total": 7000, "label": {c: 1000 for c in CLASSES}, "speaker": {s: 350 for s in SPEAKERS}}
    unverified = frozenset({"label", "speaker"})
    layout_hint = ("F_01_OISHI_S_1_ANGRY_1.wav … (7000 files: sex_speaker_name_S_sentence_EMOTION_take.wav, "
                   "in the root or folders below it)")
    bad_what = "not a valid SUBESCO file name: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 SUBESCO emotions"),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def parse(self, path: Path, base: Path) -> dict:
        m = NAME.match(path.name)
        if not m:
            raise ValueError("not SEX_NN_NAME_S_N_EMOTION_TAKE.wav (e.g. F_01_OISHI_S_1_ANGRY_1.wav)")
        sex, num, _name, sent, emo, take = m.groups()
        n, s, t = int(num), int(sent), int(take)
        if not 1 <= n <= 10 or not 1 <= s <= 10 or not 1 <= t <= 5:
            raise ValueError(f"speaker {num}, sentence {sent} or take {take} out of range (01–10, 1–10, 1–5)")
        if emo.upper() not in EMOTIONS:
            raise ValueError(f"emotion '{emo}' is not one of {', '.join(EMOTIONS)}")
        return {"id": path.stem, "speaker": f"{sex.upper()}_{num}", "session": f"{sex.upper()}_{num}",
                "dialogue": f"S_{s}", "audio": str(path), "language": "bn", "label": EMOTIONS[emo.upper()]}
