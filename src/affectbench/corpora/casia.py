"""CASIA Chinese emotional speech corpus (the public 1200-utterance part), native layout.

``<speaker>/<emotion>/<nnn>.wav``: four speakers (liuchanhg, wangzhe, zhaoquanyin,
ZhaoZuoxiang; folder names as distributed, including the ``liuchanhg`` spelling),
six emotions (angry fear happy neutral sad surprise), 50 sentences each (files
201–250 in the public part). The speaker folders may sit in the root or one level
down (``CASIA/``). id = ``speaker_emotion_nnn``; speaker = session = the folder;
dialogue = the sentence number (the same 50 texts for every speaker and emotion,
so a sentence-disjoint split is a ``logo`` away).

Default protocol: leave one speaker out, 4 folds — EmoBox's CASIA folds (its rule
for 4–6 speakers is leave-one-speaker-out). Caveat: the public part is the 50
sentences that are parallel across emotions; the full 9600-utterance corpus is
sold by the Chinese Linguistic Data Consortium and is not what EmoBox reads.
"""
from __future__ import annotations

from pathlib import Path

from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus, one_of
from .base import register

SPEAKERS = ("liuchanhg", "wangzhe", "zhaoquanyin", "ZhaoZuoxiang")
CLASSES = ("angry", "fear", "happy", "neutral", "sad", "surprise")


@register
class CASIA(FileNamedCorpus):
    name = "casia"
    title = "CASIA"
    description = "CASIA Chinese emotional speech (public part): 4 speakers, 6 emotions, Mandarin (audio)."
    modalities = ("audio",)
    language = "zh"
    licence = "research use; public part distributed by the Institute of Automation, CAS (full corpus: ChineseLDC)"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "loso"}
    expected = {"total": 1200, "speaker": {s: 300 for s in SPEAKERS}, "label": {c: 200 for c in CLASSES}}
    unverified = frozenset({"speaker", "label"})
    layout_hint = ("<speaker>/<emotion>/<nnn>.wav with speaker folders liuchanhg wangzhe zhaoquanyin "
                   "ZhaoZuoxiang and emotion folders angry fear happy neutral sad surprise (1200 files)")
    bad_what = "not a valid CASIA file: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 6 CASIA emotions"),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def parse(self, path: Path, base: Path) -> dict | None:
        emo, spk = path.parent.name, path.parent.parent.name
        if spk not in SPEAKERS and emo not in CLASSES:
            return None  # not inside the corpus's speaker/emotion folders
        one_of("speaker folder", spk, SPEAKERS)
        one_of("emotion folder", emo, CLASSES)
        if not path.stem.isdigit():
            raise ValueError("file name is not a sentence number (e.g. 201.wav)")
        return {"id": f"{spk}_{emo}_{path.stem}", "speaker": spk, "session": spk, "dialogue": path.stem,
                "audio": str(path), "language": "zh", "label": emo}
