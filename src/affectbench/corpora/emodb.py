"""EmoDB (Berlin Database of Emotional Speech), read from the distributed layout.

``wav/03a01Fa.wav``: speaker 03, text a01, emotion letter F, version a. Label and
speaker come from the file name; nothing else is needed. 535 files, 10 speakers,
protocol leave-one-speaker-out.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import soundfile as sf

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from .base import Corpus, is_hidden, register

LETTERS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear",
           "F": "happy", "T": "sad", "N": "neutral"}
NAME = re.compile(r"^(\d\d)([a-z]\d\d)([WLEAFTN])([a-z])\.wav$")
CLASSES = ("angry", "boredom", "disgust", "fear", "happy", "sad", "neutral")


@register
class EmoDB(Corpus):
    name = "emodb"
    title = "EmoDB"
    description = "Berlin Database of Emotional Speech: 10 actors, 7 emotions, German (audio)."
    modalities = ("audio",)
    language = "de"
    default_protocol = {"kind": "loso"}
    expected = {"total": 535, "label": {"angry": 127, "boredom": 81, "neutral": 79, "happy": 71,
                                         "fear": 69, "sad": 62, "disgust": 46}}
    layout_hint = "wav/03a01Fa.wav … (535 files named speaker, text, emotion letter, version)"
    licence = "free for research use (no licence file; see the release page)"
    canonical = {c: c for c in CLASSES}
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 EmoDB emotions"),
        "four": LabelView.identity("four", ("neutral", "happy", "sad", "angry"),
                                   "neutral/happy/sad/angry", drop=("boredom", "disgust", "fear")),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        wav = root / "wav"
        if not wav.is_dir():
            raise CorpusError(f"{root}: not an EmoDB root: no wav/ folder. Expected {self.layout_hint}")
        rows, bad = [], []
        for p in sorted(wav.iterdir()):
            if is_hidden(p.name):
                continue
            m = NAME.match(p.name)
            if not m:
                if p.suffix.lower() == ".wav":
                    bad.append((p, "name does not follow SSTTTEv.wav"))
                continue
            spk, text, letter, version = m.groups()
            rows.append({"id": p.stem, "speaker": spk, "session": spk, "audio": str(p),
                         "text": None, "language": "de", "label": LETTERS[letter],
                         "dialogue": text})
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise CorpusError(f"{wav}: no EmoDB wav files. Expected {self.layout_hint}")
        from ..manifest import normalize
        return normalize(rows, self.name)

    def caveats(self, df):
        # This project's test copy is cropped; say so in every report rather than trust users to know.
        from collections import Counter

        durs = Counter()
        rate = None
        for p in df["audio"].head(50):
            try:
                info = sf.info(p)
            except Exception:  # unreadable files are reported by extraction, not here
                continue
            durs[round(info.duration, 2)] += 1
            rate = info.samplerate
        if len(df) > 20 and durs:
            d, n = durs.most_common(1)[0]
            if n >= 0.9 * sum(durs.values()):
                return [f"{n} of {sum(durs.values())} files checked are exactly {d:.2f} s at {rate} Hz: "
                        "this copy looks cropped/padded, so results are not comparable to full-length EmoDB"]
        return []
