"""MSP-Podcast, read from the release as distributed (``MSP-PODCAST-Publish-1.xx/``).

- ``Labels/labels_consensus.csv``: ``FileName, EmoClass, EmoAct, EmoVal, EmoDom,
  SpkrID, Gender, Split_Set`` — the consensus primary emotion (A angry, S sad,
  H happy, U surprise, F fear, D disgust, C contempt, N neutral, O other, X no
  agreement), mean arousal / valence / dominance (1–7), speaker id (``Unknown``
  where not identified) and the official set (Train, Development — some copies
  say Validation —, Test1, Test2, Test3).
- ``Audios/<FileName>`` (older releases: ``Audio/``): one 16 kHz WAV per segment.
- ``Transcripts/<stem>.txt`` where a copy has them: the segment's transcript.

Rows: id = file stem (``MSP-PODCAST_0001_0008``); dialogue = the podcast number
(``0001``), turn = the segment number; speaker = SpkrID (empty for Unknown);
split = train / dev / test (Test1) / test2 / test3. Labels: the codes above under
canonical names, O = ``other`` and X = ``no_agreement``, kept so counts stay
checkable; every view drops them.

Default protocol: the official split (Train / Development / Test1). The release
builds it speaker-disjoint for identified speakers, but segments of unknown
speakers cannot be checked, so the protocol does not claim speaker independence
and a caveat says how many there are. Counts differ per release: the ones below
(1.11) only warn.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, is_hidden, register

CODES = {"A": "angry", "S": "sad", "H": "happy", "U": "surprise", "F": "fear", "D": "disgust",
         "C": "contempt", "N": "neutral", "O": "other", "X": "no_agreement"}
EIGHT = ("angry", "sad", "happy", "surprise", "fear", "disgust", "contempt", "neutral")
SPLITS = {"Train": "train", "Development": "dev", "Validation": "dev", "Test1": "test", "Test2": "test2",
          "Test3": "test3"}
REQUIRED = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Split_Set")
STEM = re.compile(r"^MSP-PODCAST_(\d{4})_(\d{4})(?:_\d+)?$")


@register
class MSPPodcast(Corpus):
    name = "msp_podcast"
    title = "MSP-Podcast"
    description = ("MSP-Podcast: naturalistic podcast segments, 8 primary emotions + arousal/valence/"
                   "dominance, official Train/Development/Test1/Test2 sets, English (audio, text).")
    modalities = ("audio", "text")
    language = "en"
    licence = "academic licence agreement with UT Dallas (MSP lab); no redistribution"
    canonical = {**{c: c for c in EIGHT}, "other": None, "no_agreement": None}
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"split": {"train": 84030, "dev": 19815, "test": 30647, "test2": 14815}}
    unverified = frozenset({"split"})
    layout_hint = "Labels/labels_consensus.csv and Audios/MSP-PODCAST_0001_0008.wav … (the release folder)"
    labelset = LabelSet(tuple(CODES.values()), {
        "eight": LabelView.identity("eight", EIGHT, "the 8 primary emotions (O, X dropped)",
                                    drop=("other", "no_agreement")),
        "four": LabelView.four(CODES.values()),
        "vad": LabelView.regression("vad", ("valence", "arousal", "dominance"),
                                    "mean rater valence / arousal / dominance (1-7)"),
    }, default_view="eight")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        labels = next((p for p in (root / "Labels" / "labels_consensus.csv", root / "labels_consensus.csv")
                       if p.is_file()), None)
        if labels is None:
            raise CorpusError(f"{root}: not an MSP-Podcast root: no Labels/labels_consensus.csv. "
                              f"Expected {self.layout_hint}")
        base = labels.parent.parent if labels.parent.name == "Labels" else labels.parent
        audio = next((base / d for d in ("Audios", "Audio") if (base / d).is_dir()), None)
        wavs = {f for f in os.listdir(audio) if not is_hidden(f)} if audio else set()
        tdir = base / "Transcripts"
        texts = {f for f in os.listdir(tdir) if not is_hidden(f)} if tdir.is_dir() else set()
        rows, missing = [], []
        for r in self._rows(labels, issues):
            if audio is not None and r["_file"] in wavs:
                r["audio"] = str(audio / r["_file"])
            else:
                missing.append(str((audio or base / "Audios") / r["_file"]))
                issues.add(missing[-1], "audio missing")
                continue
            t = f"{r['id']}.txt"
            r["text"] = ((tdir / t).read_text(encoding="utf-8", errors="replace").strip() if t in texts else None)
            del r["_file"]
            rows.append(r)
        if missing and on_error == "raise":
            raise CorpusError(f"{len(missing)} audio file(s) named in {labels} are missing, e.g. "
                              f"{missing[0]}{SKIP_HINT}")
        if not rows:
            raise CorpusError(f"{labels}: no segments with audio. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    @staticmethod
    def _rows(path: Path, issues):
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rd = csv.DictReader(fh)
            absent = [c for c in REQUIRED if c not in (rd.fieldnames or [])]
            if absent:
                raise CorpusError(f"{path}:1: header lacks {absent}; expected {', '.join(REQUIRED)}, Gender")
            for rec in rd:
                where = f"{path}:{rd.line_num}"
                try:
                    stem = Path(rec["FileName"].strip()).stem
                    m = STEM.match(stem)
                    if not m:
                        raise ValueError(f"FileName '{rec['FileName']}' is not MSP-PODCAST_NNNN_NNNN.wav")
                    code, split = rec["EmoClass"].strip(), rec["Split_Set"].strip()
                    if split == "Test3" and not code:  # the held-out set is released without labels
                        issues.add(where, "Test3 segment without labels: left out")
                        continue
                    if code not in CODES:
                        raise ValueError(f"EmoClass '{code}' is not one of {' '.join(CODES)}")
                    if split not in SPLITS:
                        raise ValueError(f"Split_Set '{split}' is not one of {', '.join(SPLITS)}")
                    act, val, dom = (float(rec[c]) for c in ("EmoAct", "EmoVal", "EmoDom"))
                except (ValueError, AttributeError) as e:
                    issues.problem(where, f"malformed row: {e}", f"{where}: malformed row ({e}){SKIP_HINT}")
                    continue
                spk = rec["SpkrID"].strip()
                yield {"id": stem, "_file": f"{stem}.wav", "speaker": None if spk.lower() == "unknown" else spk,
                       "dialogue": m.group(1), "turn": int(m.group(2)), "split": SPLITS[split],
                       "language": "en", "label": CODES[code], "arousal": act, "valence": val, "dominance": dom}

    def caveats(self, df):
        out = []
        unknown = int(df["speaker"].isna().sum())
        if unknown:
            out.append(f"{unknown} of {len(df)} segments have speaker 'Unknown': speaker independence of "
                       "the official split cannot be checked for them")
        if df["text"].isna().all():
            out.append("no Transcripts/ folder: text is empty")
        return out
