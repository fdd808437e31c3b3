"""CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset), native layout.

``AudioWAV/1001_DFA_ANG_XX.wav`` = actor (1001–1091), sentence code (12), emotion
(ANG DIS FEA HAP NEU SAD), level (LO MD HI, XX unspecified); 7442 files, 16 kHz.
``VideoFlash/<same stem>.flv`` becomes ``video`` where present.
``VideoDemographics.csv`` (ActorID, Age, Sex, Race, Ethnicity) is read by
:meth:`CremaD.demographics`; the manifest has no demographic columns (a ``meta``
JSON column is used if the manifest ever gets one).

Decisions:

- id = file stem; speaker = session = actor id (``"1001"``); dialogue = sentence
  code (``"DFA"``, like EmoDB's text code); text = the sentence.
- The label is the *acted* emotion from the file name (the crowd-sourced
  perceived labels in ``processedResults/`` are not read).
- Default protocol: five fixed speaker-disjoint folds of actors, balanced by sex
  (EmoBox's single split is not speaker-independent). Rule, from the official
  ``VideoDemographics.csv`` (48 male, 43 female): the male actors in id order,
  then the female actors in id order, are dealt round-robin into folds 1–5 (the
  female deal continues where the male one stopped). Fold sizes 19/18/18/18/18,
  males 10/10/10/9/9. The lists below are that rule's output, frozen.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import COLUMNS, normalize
from .base import Corpus, is_hidden, register

NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.wav$")
EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
            "SAD": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
SENTENCES = {
    "IEO": "It's eleven o'clock.", "TIE": "That is exactly what happened.",
    "IOM": "I'm on my way to the meeting.", "IWW": "I wonder what this is about.",
    "TAI": "The airplane is almost full.", "MTI": "Maybe tomorrow it will be cold.",
    "IWL": "I would like a new alarm clock.", "ITH": "I think I have a doctor's appointment.",
    "DFA": "Don't forget a jacket.", "ITS": "I think I've seen this before.",
    "TSI": "The surface is slick.", "WSI": "We'll stop in a couple of minutes.",
}
ACTORS = [str(a) for a in range(1001, 1092)]
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad")
#: Sex = "Male" in the official VideoDemographics.csv (48 of 91 actors)
MALE = ("1001 1005 1011 1014 1015 1016 1017 1019 1022 1023 1026 1027 1031 1032 1033 1034 1035 "
        "1036 1038 1039 1040 1041 1042 1044 1045 1048 1050 1051 1057 1059 1062 1064 1065 1066 "
        "1067 1068 1069 1070 1071 1077 1080 1081 1083 1085 1086 1087 1088 1090").split()
#: five speaker-disjoint, sex-balanced folds (see the module docstring for the rule)
FOLDS = [
    ["1001", "1004", "1010", "1016", "1021", "1026", "1030", "1034", "1040", "1048", "1049",
     "1056", "1062", "1068", "1072", "1078", "1080", "1087", "1091"],
    ["1005", "1006", "1012", "1017", "1024", "1027", "1035", "1037", "1041", "1050", "1052",
     "1058", "1064", "1069", "1073", "1079", "1081", "1088"],
    ["1007", "1011", "1013", "1019", "1025", "1031", "1036", "1042", "1043", "1051", "1053",
     "1060", "1065", "1070", "1074", "1082", "1083", "1090"],
    ["1002", "1008", "1014", "1018", "1022", "1028", "1032", "1038", "1044", "1046", "1054",
     "1057", "1061", "1066", "1071", "1075", "1084", "1085"],
    ["1003", "1009", "1015", "1020", "1023", "1029", "1033", "1039", "1045", "1047", "1055",
     "1059", "1063", "1067", "1076", "1077", "1086", "1089"],
]
_HAS_META = "meta" in COLUMNS


def sex_balanced_folds(male, female, k: int = 5) -> list[list[str]]:
    """The documented fold rule: males then females, each in id order, dealt round-robin."""
    folds = [[] for _ in range(k)]
    for i, a in enumerate(sorted(male) + sorted(female)):
        folds[i % k].append(a)
    return [sorted(f) for f in folds]


def parse_name(name: str) -> dict:
    m = NAME.match(name)
    if not m:
        raise ValueError("not ACTOR_SENTENCE_EMOTION_LEVEL.wav (e.g. 1001_DFA_ANG_XX.wav)")
    actor, sent, emo, level = m.groups()
    for field_, value, valid in (("actor", actor, ACTORS), ("sentence", sent, SENTENCES),
                                 ("emotion", emo, EMOTIONS), ("level", level, LEVELS)):
        if value not in valid:
            shown = "1001–1091" if field_ == "actor" else ", ".join(valid)
            raise ValueError(f"{field_} '{value}' is not one of {shown}")
    return {"actor": actor, "sentence": sent, "emotion": emo, "level": level}


@register
class CremaD(Corpus):
    name = "cremad"
    title = "CREMA-D"
    description = ("Crowd-sourced Emotional Multimodal Actors Dataset: 91 actors, 6 emotions, English "
                   "(audio, video).")
    modalities = ("audio", "video")
    language = "en"
    default_protocol = {"kind": "folds", "group": "speaker", "folds": FOLDS}
    expected = {"total": 7442, "label": {"angry": 1271, "disgust": 1271, "fear": 1271,
                                         "happy": 1271, "sad": 1271, "neutral": 1087}}
    expected_views = {"four": {"total": 4900}}
    unverified = frozenset({"label", "views/four"})  # the 7442 total is confirmed, not the per-emotion split
    layout_hint = ("AudioWAV/1001_DFA_ANG_XX.wav … (7442 files: actor_sentence_emotion_level.wav), "
                   "optionally VideoFlash/*.flv and VideoDemographics.csv")
    licence = "ODbL 1.0 (Open Database License) + Database Contents License"
    canonical = {c: c for c in CLASSES}
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 6 CREMA-D emotions"),
        "four": LabelView.identity("four", ("neutral", "happy", "sad", "angry"),
                                   "neutral/happy/sad/angry", drop=("disgust", "fear")),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        wav = root / "AudioWAV"
        if not wav.is_dir():
            hint = ""
            if any(NAME.match(p.name) for p in root.glob("*.wav")):
                hint = f" (the wav files are in {root} itself: give its parent, the folder holding AudioWAV/)"
            raise CorpusError(f"{root}: not a CREMA-D root: no AudioWAV/ folder{hint}. "
                              f"Expected {self.layout_hint}")
        flv = root / "VideoFlash"
        videos = ({p.stem: p for p in flv.iterdir() if p.suffix.lower() == ".flv" and not is_hidden(p.name)}
                  if flv.is_dir() else {})
        demo = self.demographics(root) if _HAS_META and (root / "VideoDemographics.csv").is_file() else None
        rows, bad = [], []
        for p in sorted(wav.iterdir()):
            if p.suffix.lower() != ".wav" or is_hidden(p.name):
                continue
            try:
                f = parse_name(p.name)
            except ValueError as e:
                bad.append((p, str(e)))
                continue
            row = {"id": p.stem, "speaker": f["actor"], "session": f["actor"],
                   "dialogue": f["sentence"], "audio": str(p),
                   "video": str(videos[p.stem]) if p.stem in videos else None,
                   "text": SENTENCES[f["sentence"]], "language": "en",
                   "label": EMOTIONS[f["emotion"]]}
            if demo is not None:  # only once the manifest has a meta column
                meta = {"level": LEVELS[f["level"]]}
                if f["actor"] in demo.index:
                    meta.update(demo.loc[f["actor"]].to_dict())
                row["meta"] = json.dumps(meta, default=str)
            rows.append(row)
        issues.bad_files(bad, self.layout_hint, what="not a valid CREMA-D file name: ")
        if not rows:
            raise CorpusError(f"{wav}: no CREMA-D wav files. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    @staticmethod
    def demographics(root: str | Path) -> pd.DataFrame:
        """``VideoDemographics.csv`` indexed by actor id (str): age (int), sex, race, ethnicity."""
        path = Path(root) / "VideoDemographics.csv"
        if not path.is_file():
            raise CorpusError(f"{path}: missing (CREMA-D ships it beside AudioWAV/)")
        with open(path, encoding="utf-8-sig", newline="") as fh:
            recs = list(csv.DictReader(fh))
        want = ("ActorID", "Age", "Sex", "Race", "Ethnicity")
        if not recs or any(c not in recs[0] for c in want):
            raise CorpusError(f"{path}: expected the columns {', '.join(want)}")
        out = []
        for i, r in enumerate(recs, 2):
            try:
                out.append({"speaker": str(int(r["ActorID"])), "age": int(r["Age"]),
                            "sex": r["Sex"].strip().lower(), "race": r["Race"].strip(),
                            "ethnicity": r["Ethnicity"].strip()})
            except (TypeError, ValueError):
                raise CorpusError(f"{path}:{i}: malformed row {r}") from None
        return pd.DataFrame(out).set_index("speaker")

    def caveats(self, df: pd.DataFrame) -> list[str]:
        # Copies have been reported to hold a header-only WAV (1076_MTI_SAD_XX): name what a run
        # will have to skip instead of letting extraction discover it.
        empty = [Path(p).name for p in df["audio"].dropna() if Path(p).stat().st_size <= 44]
        if empty:
            return [f"{len(empty)} audio file(s) hold no samples ({', '.join(empty[:5])}): "
                    "feature extraction fails on them; run with on_error = \"skip\""]
        return []
