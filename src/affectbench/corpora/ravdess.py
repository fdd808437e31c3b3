"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song), native layout.

The zips extract to ``Actor_01/ … Actor_24/`` (the root may hold them directly or
one folder down, e.g. ``Audio_Speech_Actors_01-24/Actor_01``). Every file is named
by seven two-digit fields, ``03-01-06-01-02-01-12.wav``:

=========  ==================================================================
modality   01 audio-visual (.mp4), 02 video-only (.mp4), 03 audio-only (.wav)
channel    01 speech, 02 song
emotion    01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful,
           07 disgust, 08 surprised (no strong neutral; song has no 07/08)
intensity  01 normal, 02 strong
statement  01 "Kids are talking by the door", 02 "Dogs are sitting by the door"
repetition 01, 02
actor      01–24 (odd male, even female)
=========  ==================================================================

Decisions:

- **One row per take.** The three modality files of a take (AV, video-only,
  audio-only) are versions of one recording; they are paired by the six fields
  other than modality. The id is that take id, ``01-06-01-02-01-12`` (channel,
  emotion, intensity, statement, repetition, actor), the same whichever files a
  copy holds.
- **Audio** comes from the audio-only ``03-…wav`` (48 kHz, a few stereo; the audio
  loader downmixes and resamples). **Video** is the audio-visual ``01-…mp4``, or the
  video-only ``02-…mp4`` when a copy has no AV file. A take with video but no
  ``03-`` wav has ``audio`` null: libsndfile cannot decode mp4 audio.
- **Song is left out by default**: the benchmark (EmoBox) is speech only, 1440
  takes. ``RAVDESS(include_song=True)`` adds the 1012 song takes (channel 02 in
  the id).
- speaker = session = actor ``"01"…"24"``; dialogue = statement ``"01"``/``"02"``
  (as EmoDB's text code, so a statement-disjoint split is a ``logo`` away);
  text = the statement.
- Views: ``all`` (8 classes, EmoBox), ``seven`` (calm **dropped**, not merged
  into neutral: calm is acted as its own emotion at two intensities, and merging
  would triple neutral), ``four`` (neutral/happy/sad/angry).
- Default protocol: EmoBox's six speaker-independent actor folds (kind
  ``folds``); ``loso`` also works.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import Corpus, is_hidden, register

ACTOR_DIR = re.compile(r"^actor_(\d\d)$", re.IGNORECASE)
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.(wav|mp4)$", re.IGNORECASE)
MODALITIES = {"01": "audio-visual", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fear", "07": "disgust", "08": "surprise"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
CLASSES = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")
#: EmoBox's speaker-independent folds (actor ids)
EMOBOX_FOLDS = [["01", "11", "20", "21"], ["04", "10", "12", "14"], ["08", "09", "19", "23"],
                ["03", "05", "07", "24"], ["02", "15", "16", "18"], ["06", "13", "17", "22"]]
ACTORS = [f"{a:02d}" for a in range(1, 25)]
#: 24 actors × (neutral: 1 intensity, others: 2) × 2 statements × 2 repetitions
SPEECH = {"total": 1440, "label": {"neutral": 96, **{c: 192 for c in CLASSES[1:]}},
          "speaker": {a: 60 for a in ACTORS}}
#: song: 23 actors (actor 18 has none), neutral calm happy sad angry fearful
SONG = {"total": 1012, "label": {"neutral": 92, **{c: 184 for c in CLASSES[1:6]}},
        "speaker": {a: 0 if a == "18" else 44 for a in ACTORS}}


def sex(actor: str) -> str:
    """RAVDESS actors: odd ids are male, even ids female."""
    return "male" if int(actor) % 2 else "female"


def parse_name(name: str, folder_actor: str | None = None) -> dict:
    """The fields of a RAVDESS file name; ValueError says what is wrong."""
    m = NAME.match(name)
    if not m:
        raise ValueError("not seven two-digit fields + .wav/.mp4 (e.g. 03-01-06-01-02-01-12.wav)")
    mod, ch, emo, inten, stmt, rep, actor, ext = m.groups()
    checks = [("modality", mod, MODALITIES), ("channel", ch, CHANNELS), ("emotion", emo, EMOTIONS),
              ("intensity", inten, ("01", "02")), ("statement", stmt, STATEMENTS),
              ("repetition", rep, ("01", "02")), ("actor", actor, ACTORS)]
    for field_, value, valid in checks:
        if value not in valid:
            raise ValueError(f"{field_} '{value}' is not one of {', '.join(valid)}")
    want = ".wav" if mod == "03" else ".mp4"
    if f".{ext.lower()}" != want:
        raise ValueError(f"modality {mod} ({MODALITIES[mod]}) should be a {want} file")
    if folder_actor is not None and actor != folder_actor:
        raise ValueError(f"actor {actor} in the name, but the file is in Actor_{folder_actor}")
    return {"modality": mod, "channel": ch, "emotion": emo, "intensity": inten,
            "statement": stmt, "repetition": rep, "actor": actor,
            "take": f"{ch}-{emo}-{inten}-{stmt}-{rep}-{actor}"}


def actor_dirs(root: Path) -> list[Path]:
    """``Actor_NN`` folders in ``root`` or one level below (how the zips extract)."""
    found = []
    for p in sorted(root.iterdir()):
        if not p.is_dir():
            continue
        if ACTOR_DIR.match(p.name):
            found.append(p)
        else:
            found += [q for q in sorted(p.iterdir()) if q.is_dir() and ACTOR_DIR.match(q.name)]
    return found


def _views(exp: dict) -> dict:
    lab = exp["label"]
    return {"seven": {"total": exp["total"] - lab["calm"]},
            "four": {"total": sum(lab[c] for c in ("neutral", "happy", "sad", "angry"))}}


@register
class RAVDESS(Corpus):
    name = "ravdess"
    title = "RAVDESS"
    description = ("Ryerson Audio-Visual Database of Emotional Speech and Song: 24 actors, "
                   "8 emotions, English (audio, video); speech only unless include_song.")
    modalities = ("audio", "video")
    language = "en"
    default_protocol = {"kind": "folds", "group": "speaker", "folds": EMOBOX_FOLDS}
    expected = SPEECH
    expected_views = {"seven": {"total": 1248}, "four": {"total": 672}}  # = _views(SPEECH)
    layout_hint = ("Actor_01/ … Actor_24/ (directly in the root or one folder down, as the zips "
                   "extract) holding files named modality-channel-emotion-intensity-statement-"
                   "repetition-actor, e.g. Actor_12/03-01-06-01-02-01-12.wav (audio-only) or "
                   "01-01-06-01-02-01-12.mp4 (audio-visual)")
    licence = "CC BY-NC-SA 4.0"
    canonical = {c: c for c in CLASSES}
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 8 RAVDESS emotions (EmoBox)"),
        "seven": LabelView.identity("seven", tuple(c for c in CLASSES if c != "calm"),
                                    "7 classes: calm dropped (not merged into neutral)",
                                    drop=("calm",)),
        "four": LabelView.identity("four", ("neutral", "happy", "sad", "angry"),
                                   "neutral/happy/sad/angry",
                                   drop=("calm", "fear", "disgust", "surprise")),
    }, default_view="all")

    def __init__(self, include_song: bool = False):
        self.include_song = include_song
        if include_song:
            self.expected = {
                "total": SPEECH["total"] + SONG["total"],
                "label": {c: SPEECH["label"][c] + SONG["label"].get(c, 0) for c in CLASSES},
                "speaker": {a: SPEECH["speaker"][a] + SONG["speaker"][a] for a in ACTORS},
            }
            self.expected_views = _views(self.expected)
            self.unverified = frozenset({"total", "label", "speaker", "views"})  # the song counts

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        dirs = actor_dirs(root)
        if not dirs:
            raise CorpusError(f"{root}: not a RAVDESS root: no Actor_NN folders in it or one level "
                              f"down. Expected {self.layout_hint}")
        takes: dict[str, dict] = {}
        bad: list[tuple[Path, str]] = []
        for d in dirs:
            folder_actor = ACTOR_DIR.match(d.name).group(1)
            for p in sorted(d.iterdir()):
                if p.suffix.lower() not in (".wav", ".mp4") or is_hidden(p.name):
                    continue  # .DS_Store, readme files …
                try:
                    f = parse_name(p.name, folder_actor)
                except ValueError as e:
                    bad.append((p, f"not a valid RAVDESS file name: {e}"))
                    continue
                if f["channel"] == "02" and not self.include_song:
                    continue
                t = takes.setdefault(f["take"], {"fields": f})
                slot = f["modality"]
                if slot in t:
                    bad.append((p, f"a second {MODALITIES[slot]} file of take {f['take']} "
                                   f"(the first is {t[slot]})"))
                    continue
                t[slot] = p
        issues.bad_files(bad, self.layout_hint)
        rows = []
        for take_id in sorted(takes):
            t = takes[take_id]
            f = t["fields"]
            video = t.get("01") or t.get("02")
            rows.append({"id": take_id, "speaker": f["actor"], "session": f["actor"],
                         "dialogue": f["statement"], "audio": str(t["03"]) if "03" in t else None,
                         "video": str(video) if video else None, "text": STATEMENTS[f["statement"]],
                         "language": "en", "label": EMOTIONS[f["emotion"]]})
        if not rows:
            what = "speech " if not self.include_song else ""
            raise CorpusError(f"{root}: Actor_NN folders hold no RAVDESS {what}files. Expected "
                              f"{self.layout_hint}")
        return normalize(rows, self.name)

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = []
        no_audio = int(df["audio"].isna().sum())
        if 0 < no_audio:
            out.append(f"{no_audio} of {len(df)} takes have video but no audio-only 03-…wav file: "
                       "audio extractors cannot use them")
        if self.include_song:
            out.append("speech and song takes are pooled (include_song=True): not comparable to "
                       "speech-only RAVDESS results")
        return out
