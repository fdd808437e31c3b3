"""CK+ (Extended Cohn-Kanade), read from either of its two common layouts.

**Full release** (``extended-cohn-kanade-images.zip`` + ``Emotion_labels.zip``; the
two folders may sit in the root or one level down)::

    cohn-kanade-images/S005/001/S005_001_00000011.png          every frame
    Emotion/S005/001/S005_001_00000011_emotion.txt             one float, 0–7

Sequences run from neutral to the peak of one expression; 327 of the 593 have an
emotion file, named after the frame that carries the label, which is the last
(peak) frame. Codes: 0 neutral, 1 anger, 2 contempt, 3 disgust, 4 fear, 5 happy,
6 sadness, 7 surprise.

**CK+48 crops**: ``<emotion>/S<subject>_<sequence>_<frame>.png``, 48×48 grayscale,
the last three frames of each of the 327 labelled sequences (981 images).

The layout is detected from the root. Decisions:

- Full release: one row per labelled sequence, the labelled (peak) frame
  (327 rows), the standard CK+ protocol. ``CKPlus(peak_frames=3)`` takes the
  last three frames up to the labelled one instead (as CK+48 does);
  ``CKPlus(neutral_first=True)`` adds each labelled sequence's first frame as
  ``neutral`` (the onset is neutral by design). Both are off by default:
  near-duplicate frames inflate counts, and the onset frames make neutral the
  largest class.
- id = image stem (``S005_001_00000011``); speaker = session = subject
  (``S005``); dialogue = sequence (``S005_001``); turn = frame number;
  ``image`` = the png path.
- Views: ``seven`` (default: the 7 emotions; neutral dropped), ``six`` (Ekman:
  contempt dropped too), ``eight`` (with neutral; for ``neutral_first``).
- Default protocol: 10 fixed subject-disjoint folds over the 118 subjects that
  have labelled sequences. Rule: subjects sorted by number of labelled sequences
  (most first, then id) are assigned greedily to the fold with the fewest
  sequences so far (ties: lowest fold); 33/33/33/33/33/33/33/32/32/32
  sequences. The lists below are that rule's output, frozen.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView, canonical
from ..manifest import normalize
from .base import Corpus, is_hidden, register

CODES = {0: "neutral", 1: "angry", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad",
         7: "surprise"}
EMOTIONS = ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")
FRAME = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})\.png$")
LABEL_FILE = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})_emotion\.txt$")
#: labelled sequences per emotion (CK+ paper, Lucey et al. 2010): 327 in all
LABEL_SEQUENCES = {"angry": 45, "contempt": 18, "disgust": 59, "fear": 25, "happy": 69, "sad": 28,
                   "surprise": 83}
#: labelled sequences per subject (118 subjects), counted on a CK+48 copy (981 = 3 × 327)
SUBJECT_SEQUENCES = {
    "S005": 1, "S010": 3, "S011": 6, "S014": 4, "S022": 3, "S026": 4, "S028": 1, "S029": 1,
    "S032": 5, "S034": 3, "S035": 3, "S037": 3, "S042": 4, "S044": 3, "S045": 2, "S046": 4,
    "S050": 4, "S051": 2, "S052": 3, "S053": 2, "S054": 3, "S055": 5, "S056": 3, "S057": 3,
    "S058": 3, "S059": 2, "S060": 3, "S061": 3, "S062": 4, "S063": 2, "S064": 3, "S065": 4,
    "S066": 4, "S067": 4, "S068": 4, "S069": 3, "S070": 3, "S071": 5, "S072": 2, "S073": 2,
    "S074": 4, "S075": 4, "S076": 3, "S077": 2, "S078": 3, "S079": 3, "S080": 3, "S081": 3,
    "S082": 3, "S083": 1, "S084": 2, "S085": 3, "S086": 2, "S087": 4, "S088": 2, "S089": 3,
    "S090": 3, "S091": 2, "S092": 3, "S093": 2, "S094": 2, "S095": 4, "S096": 3, "S097": 3,
    "S098": 2, "S099": 3, "S100": 3, "S101": 1, "S102": 3, "S105": 1, "S106": 3, "S107": 2,
    "S108": 3, "S109": 3, "S110": 1, "S111": 3, "S112": 1, "S113": 3, "S114": 2, "S115": 3,
    "S116": 3, "S117": 3, "S119": 3, "S122": 1, "S124": 4, "S125": 5, "S126": 2, "S127": 3,
    "S128": 2, "S129": 4, "S130": 5, "S131": 4, "S132": 5, "S133": 3, "S134": 3, "S135": 2,
    "S136": 4, "S137": 3, "S138": 5, "S139": 1, "S147": 1, "S148": 1, "S149": 1, "S151": 1,
    "S154": 1, "S155": 1, "S156": 1, "S157": 1, "S158": 1, "S160": 1, "S501": 3, "S502": 3,
    "S503": 3, "S504": 4, "S505": 2, "S506": 4, "S895": 1, "S999": 2,
}
#: 10 subject-disjoint folds (see the module docstring for the rule)
FOLDS = [
    ["S011", "S022", "S028", "S044", "S070", "S075", "S092", "S094", "S101", "S113", "S154", "S502"],
    ["S029", "S032", "S050", "S052", "S076", "S096", "S098", "S105", "S115", "S124", "S155", "S503"],
    ["S045", "S054", "S055", "S062", "S072", "S078", "S097", "S107", "S110", "S116", "S129", "S156"],
    ["S051", "S056", "S065", "S071", "S073", "S079", "S099", "S112", "S114", "S117", "S131", "S157"],
    ["S053", "S057", "S066", "S077", "S080", "S100", "S119", "S122", "S125", "S126", "S136", "S158"],
    ["S058", "S059", "S067", "S081", "S084", "S102", "S127", "S128", "S130", "S139", "S160", "S504"],
    ["S060", "S063", "S068", "S082", "S086", "S106", "S132", "S133", "S135", "S147", "S506", "S895"],
    ["S010", "S034", "S061", "S074", "S085", "S088", "S108", "S134", "S138", "S148", "S505"],
    ["S014", "S035", "S042", "S064", "S087", "S089", "S091", "S109", "S137", "S149", "S999"],
    ["S005", "S026", "S037", "S046", "S069", "S083", "S090", "S093", "S095", "S111", "S151", "S501"],
]


def greedy_folds(sequences: dict[str, int], k: int = 10) -> list[list[str]]:
    """The documented fold rule: most sequences first, each subject to the lightest fold."""
    folds, load = [[] for _ in range(k)], [0] * k
    for s in sorted(sequences, key=lambda s: (-sequences[s], s)):
        i = min(range(k), key=lambda j: (load[j], j))
        folds[i].append(s)
        load[i] += sequences[s]
    return [sorted(f) for f in folds]


def _expected(frames_per_sequence: int, neutral_first: bool) -> dict:
    n = frames_per_sequence
    exp = {"total": 327 * n, "label": {c: v * n for c, v in LABEL_SEQUENCES.items()},
           "speaker": {s: v * n for s, v in SUBJECT_SEQUENCES.items()}}
    if neutral_first:
        exp["total"] += 327
        exp["label"]["neutral"] = 327
        exp["speaker"] = {s: v * (n + 1) for s, v in SUBJECT_SEQUENCES.items()}
    return exp


def _find(root: Path, name: str) -> Path | None:
    """``root/name`` or ``root/*/name`` (the zips add a level)."""
    if (root / name).is_dir():
        return root / name
    return next((p / name for p in sorted(root.iterdir()) if (p / name).is_dir()), None)


@register
class CKPlus(Corpus):
    name = "ckplus"
    title = "CK+"
    description = ("Extended Cohn-Kanade: posed facial expressions, 118 labelled subjects, 7 emotions "
                   "(image); full release or CK+48 crops.")
    modalities = ("image",)
    language = ""
    default_protocol = {"kind": "folds", "group": "speaker", "folds": FOLDS}
    expected = _expected(1, False)
    layout_hint = ("either the full release, cohn-kanade-images/S005/001/S005_001_00000011.png with "
                   "Emotion/S005/001/S005_001_00000011_emotion.txt, or the CK+48 crops, "
                   "<emotion>/S005_001_00000011.png with emotion folders anger contempt disgust fear "
                   "happy sadness surprise")
    licence = "CK+ agreement (non-commercial research, on request)"
    canonical = {c: c for c in ("neutral",) + EMOTIONS}
    labelset = LabelSet(("neutral",) + EMOTIONS, {
        "seven": LabelView.identity("seven", EMOTIONS, "the 7 CK+ emotions", drop=("neutral",)),
        "six": LabelView.identity("six", tuple(e for e in EMOTIONS if e != "contempt"),
                                  "Ekman's six (contempt dropped)", drop=("neutral", "contempt")),
        "eight": LabelView.identity("eight", ("neutral",) + EMOTIONS,
                                    "7 emotions + neutral (needs neutral_first=True on the full release)"),
    }, default_view="seven")

    def __init__(self, peak_frames: int = 1, neutral_first: bool = False):
        if peak_frames < 1:
            raise CorpusError(f"ckplus: peak_frames must be >= 1, not {peak_frames}")
        self.peak_frames = peak_frames
        self.neutral_first = neutral_first
        self.layout = None
        self.expected = _expected(peak_frames, neutral_first)

    # -- layout ------------------------------------------------------------------
    def detect(self, root: Path) -> str:
        images, labels = _find(root, "cohn-kanade-images"), _find(root, "Emotion")
        if images and labels:
            return "full"
        if images:
            raise CorpusError(f"{images}: the CK+ frames are here but there is no Emotion/ folder "
                              "(from Emotion_labels.zip) in the root or one level down; without it "
                              "no sequence has a label")
        if any(p.is_dir() and canonical(p.name) in CODES.values() for p in root.iterdir()):
            return "ck48"
        raise CorpusError(f"{root}: not a CK+ root: no cohn-kanade-images/ + Emotion/ folders and no "
                          f"emotion folders. Expected {self.layout_hint}")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        self.layout = self.detect(root)
        bad: list[tuple[Path, str]] = []
        if self.layout == "full":
            rows = self._read_full(_find(root, "cohn-kanade-images"), _find(root, "Emotion"), bad)
            self.expected = _expected(self.peak_frames, self.neutral_first)
        else:
            rows = self._read_48(root, bad)
            self.expected = _expected(3, False)
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise CorpusError(f"{root}: no labelled CK+ images found. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    @staticmethod
    def _row(path: Path, subject: str, seq: str, frame: str, label: str) -> dict:
        return {"id": path.stem, "speaker": subject, "session": subject, "dialogue": f"{subject}_{seq}",
                "turn": int(frame), "image": str(path), "label": label}

    def _read_full(self, images: Path, labels: Path, bad) -> list[dict]:
        rows = []
        for txt in sorted(labels.glob("*/*/*")):
            if not txt.is_file() or is_hidden(txt.name):
                continue
            m = LABEL_FILE.match(txt.name)
            if not m or (txt.parent.parent.name, txt.parent.name) != m.groups()[:2]:
                bad.append((txt, "not a CK+ emotion file (Emotion/S005/001/S005_001_00000011_emotion.txt)"))
                continue
            subject, seq, frame = m.groups()
            try:
                value = float(txt.read_text(encoding="ascii").strip())
            except (ValueError, UnicodeDecodeError):
                bad.append((txt, "does not hold one number (the emotion code 0–7)"))
                continue
            if not (math.isfinite(value) and value == int(value) and int(value) in CODES):
                bad.append((txt, f"emotion code {value} is not one of 0–7"))
                continue
            seq_dir = images / subject / seq
            peak = seq_dir / f"{subject}_{seq}_{frame}.png"
            if not peak.is_file():
                bad.append((peak, f"missing: the labelled frame of {txt.name}"))
                continue
            frames = []
            for p in sorted(seq_dir.iterdir()):
                if p.suffix.lower() != ".png" or is_hidden(p.name):
                    continue
                fm = FRAME.match(p.name)
                if not fm or fm.group(1) != subject or fm.group(2) != seq:
                    bad.append((p, f"not a frame of sequence {subject}_{seq} (S005_001_00000011.png)"))
                    continue
                if fm.group(3) <= frame:  # frames up to the labelled one, in order
                    frames.append((fm.group(3), p))
            label = CODES[int(value)]
            for fr, p in frames[-self.peak_frames:]:
                rows.append(self._row(p, subject, seq, fr, label))
            if self.neutral_first and len(frames) > self.peak_frames:
                fr, p = frames[0]
                rows.append(self._row(p, subject, seq, fr, "neutral"))
        return rows

    def _read_48(self, root: Path, bad) -> list[dict]:
        rows = []
        for d in sorted(root.iterdir()):
            if not d.is_dir():
                continue
            label = canonical(d.name)
            pngs = [p for p in sorted(d.iterdir())
                    if p.suffix.lower() == ".png" and not is_hidden(p.name)]
            if label not in CODES.values():
                bad += [(p, f"folder '{d.name}' is not a CK+ emotion") for p in pngs]
                continue
            for p in pngs:
                m = FRAME.match(p.name)
                if not m:
                    bad.append((p, "not a CK+48 image name (S005_001_00000011.png)"))
                    continue
                rows.append(self._row(p, *m.groups(), label))
        return rows

    def mismatches(self, df: pd.DataFrame) -> list[tuple[str, str]]:
        if self.layout is None and len(df):  # a manifest read earlier: infer its layout from the paths
            full = "cohn-kanade-images" in Path(str(df["image"].iloc[0])).parts
            self.expected = _expected(self.peak_frames, self.neutral_first) if full else _expected(3, False)
        return super().mismatches(df)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        if self.layout == "ck48":
            return ["CK+48 copy: 48×48 crops, 3 near-identical frames per sequence, each counted as "
                    "an utterance; compare only with subject-grouped results"]
        if self.peak_frames > 1:
            return [f"{self.peak_frames} frames per sequence, each counted as an utterance"]
        return []
