"""EAV (Lee et al., Sci. Data 2024): EEG, audio and video of 42 people in cued conversations.

The Zenodo release (doi 10.5281/zenodo.10205702) extracts to one folder per participant
(``subject1`` … ``subject42``; ``subject01`` accepted too), each with::

    Video/001_Trial_01_Listening_Neutral.mp4       200 clips of 20 s: 5 emotions × 2 tasks × 20
    Audio/002_Trial_02_Speaking_Neutral_aud.wav    100 clips of 20 s: the speaking trials only
    EEG/subject1_eeg.mat, subject1_eeg_label.mat   200 trials × 10 000 samples × 30 channels

The three-digit prefix is the trial (1–200) and links a trial's files; emotions are
Neutral, Anger, Happiness, Sadness, Calmness (the cue of the conversation).

Rows: one per *speaking* trial (100 per participant, 4200 in all): id ``s01_002``;
``speaker`` = participant (``"01"``); ``audio`` and ``video`` of the trial; ``meta`` =
``{"trial", "task", "eeg": the subject's EEG .mat}``. ``EAV(include_listening=True)``
adds the 100 listening trials (video only: the participant listens to the actor, so the
label is the stimulus's emotion, not an expression of their own).

**EEG is not read as a modality.** affectbench's extractors take a media file per item,
and EAV's EEG is one MATLAB array per participant (trials × time × channels at 500 Hz)
that needs its own pipeline (re-referencing, band-pass, artefact handling, band power per
channel); no maintained library gives a fixed, versioned feature set for it that we could
test without EEG hardware data. The path is kept in ``meta.eeg`` for users who bring their
own features (docs/catalogue_corpora_b.md).

Protocol: the authors split each participant's trials 70/30 (within-subject). The default
here is speaker-independent: participant *n* goes to ``fold((n - 1) mod 6 + 1)``
(``session``; 7 participants per fold), one fold left out at a time.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import fold_name, not_root, shared_view, visible
from .base import Corpus, register

SUBJECT = re.compile(r"^subject0?(\d{1,2})$", re.IGNORECASE)
MEDIA = re.compile(r"^(\d{3})_Trial_(\d{2})_(Listening|Speaking)_(Neutral|Anger|Happiness|Sadness|Calmness)"
                   r"(_aud)?\.(mp4|wav)$", re.IGNORECASE)
EMOTIONS = ("neutral", "anger", "happiness", "sadness", "calmness")
CANONICAL = {"neutral": "neutral", "anger": "angry", "happiness": "happy", "sadness": "sad",
             "calmness": "calm"}
FOLDS = 6
SUBJECTS = 42


def _expected(listening: bool) -> dict:
    per = 200 if listening else 100
    return {"total": SUBJECTS * per, "label": {e: SUBJECTS * per // 5 for e in EMOTIONS},
            "speaker": {f"{n:02d}": per for n in range(1, SUBJECTS + 1)}}


@register
class EAV(Corpus):
    name = "eav"
    title = "EAV"
    description = ("EEG-Audio-Video conversations: 42 participants, 5 emotions, 100 speaking trials "
                   "each, English (audio, video; EEG path kept, not read).")
    modalities = ("audio", "video")
    language = "en"
    licence = "CC BY 4.0 (Zenodo record 10205702; unverified)"
    canonical = CANONICAL
    default_protocol = {"kind": "logo", "group": "session"}
    expected = _expected(False)
    layout_hint = ("subject1/ … subject42/ each with Video/001_Trial_01_Listening_Neutral.mp4, "
                   "Audio/002_Trial_02_Speaking_Neutral_aud.wav and EEG/subject1_eeg.mat")
    labelset = LabelSet(EMOTIONS, {
        "all": LabelView.identity("all", EMOTIONS, "the 5 EAV emotions"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def __init__(self, include_listening: bool = False):
        self.include_listening = include_listening
        self.expected = _expected(include_listening)

    def subjects(self, root: Path) -> list[tuple[int, Path]]:
        for base in [root] + [root / n for n in visible(root) if (root / n).is_dir()]:
            found = [(int(SUBJECT.match(n).group(1)), base / n) for n in visible(base)
                     if SUBJECT.match(n) and (base / n).is_dir()]
            if found:
                return sorted(found)
        return []

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        subjects = self.subjects(root)
        if not subjects:
            raise not_root(root, self.title, "no subject1/ … subject42/ folders", self.layout_hint)
        rows, bad = [], []
        for num, d in subjects:
            rows += self._subject(num, d, bad)
        issues.bad_files(bad, self.layout_hint)
        if not rows:
            raise not_root(root, self.title, "subject folders hold no Audio/ or Video/ trials", self.layout_hint)
        return normalize(rows, self.name)

    def _subject(self, num: int, d: Path, bad: list) -> list[dict]:
        trials: dict[int, dict] = {}
        for kind, sub in (("video", "Video"), ("audio", "Audio")):
            folder = d / sub
            if not folder.is_dir():
                continue
            for n in visible(folder):
                m = MEDIA.match(n)
                if not m or (m.group(6).lower() == "wav") != (kind == "audio"):
                    bad.append((folder / n, f"not an EAV {kind} trial (NNN_Trial_TT_<Task>_<Emotion>"
                                            f"{'_aud.wav' if kind == 'audio' else '.mp4'})"))
                    continue
                t = trials.setdefault(int(m.group(1)), {"task": m.group(3).lower(), "label": m.group(4).lower()})
                if (t["task"], t["label"]) != (m.group(3).lower(), m.group(4).lower()):
                    bad.append((folder / n, f"trial {m.group(1)} is {t['task']}/{t['label']} in the other folder"))
                    continue
                t[kind] = str(folder / n)
        eeg = d / "EEG" / f"{d.name}_eeg.mat"
        spk = f"{num:02d}"
        return [{"id": f"s{spk}_{k:03d}", "speaker": spk, "session": fold_name(num, FOLDS),
                 "audio": t.get("audio"), "video": t.get("video"), "language": "en", "label": t["label"],
                 "meta": json.dumps({"trial": k, "task": t["task"], "eeg": str(eeg) if eeg.is_file() else None})}
                for k, t in sorted(trials.items()) if self.include_listening or t["task"] == "speaking"]

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = [f"speaker-disjoint folds built by rule (participant mod {FOLDS}); the authors' protocol "
               "is a within-subject 70/30 split", "EEG is not read (path in meta.eeg)"]
        for col in ("audio", "video"):
            n = int(df[col].isna().sum())
            if n and not (col == "audio" and self.include_listening and n == len(df) // 2):
                out.append(f"{n} of {len(df)} trials have no {col} file")
        return out
