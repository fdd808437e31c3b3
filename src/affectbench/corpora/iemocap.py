"""IEMOCAP, read from ``IEMOCAP_full_release/`` as distributed.

What is read, per ``Session{1..5}/``:

- ``dialog/EmoEvaluation/<dialog>.txt``: one block per turn. The head line
  ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``
  gives the turn's times in the dialog, its id, the consensus label and the mean
  [valence, activation, dominance] (1-5). The ``C-…`` (categorical) and ``A-…``
  (attribute) rater lines that follow are kept, as JSON, in ``votes``. Only the
  ``*.txt`` files directly in ``EmoEvaluation/`` are read: the sub-folders
  ``Categorical/``, ``Attribute/`` and ``Self-evaluation/`` repeat the same votes
  per rater and would double-count turns.
- ``dialog/transcriptions/<dialog>.txt``: ``<turn id> [start-end]: text`` lines.
  Lines without a time (``M: …``, bare ids) are not utterances and are ignored.
- ``sentences/wav/<dialog>/<turn>.wav``: the turn's own 16 kHz WAV -> ``audio``.
- ``dialog/avi/DivX/<dialog>.avi``: one video per dialog -> ``video``.

Why ``start``/``end`` are empty: the manifest has one ``start``/``end`` and it
means "seconds inside ``audio``/``video``". ``audio`` is the per-turn WAV, which
must be read whole; the turn's times only locate it inside the *dialog* video.
Writing the dialog times into ``start``/``end`` would make every audio extractor
seek past the end of the per-turn file. So ``start``/``end`` stay NaN, ``video``
is the whole dialog AVI (a caveat says so), and the turn times are written to
``video_start``/``video_end`` as soon as the manifest has such columns.

Speaker: the session plus the gender letter of the *last* id field
(``Ses01F_impro01_M013`` is spoken by ``Ses01M``), not the dialog prefix, which
only says who wore the motion-capture markers. ``session`` is ``Ses01``…``Ses05``
(the leave-one-session-out group), ``dialogue`` the dialog name and ``turn`` the
turn's rank by start time in its dialog.

Labels keep the corpus's meaning under canonical names; ``xxx`` (the raters did
not agree) is kept as ``xxx`` so that counts stay checkable, and every view drops
it. The standard "four" view merges excited into happy: 5531 turns. The "six" view keeps
the six classes of emotion recognition in conversation (happy, sad, neutral, angry, excited,
frustrated): 7380 turns of the release's consensus labels (ERC papers quote 7433, counted on
DialogueRNN's distributed features, whose happy count is 648; docs/context.md).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd

from ..dialogue import check_turns, gap_caveat
from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import COLUMNS, normalize
from .base import SKIP_HINT, Corpus, is_hidden, register

#: corpus code -> manifest label
CODES = {"neu": "neutral", "fru": "frustrated", "sad": "sad", "sur": "surprise", "ang": "angry",
         "hap": "happy", "exc": "excited", "fea": "fear", "dis": "disgust", "oth": "other",
         "xxx": "xxx"}
LABELS = tuple(CODES.values())
ALL = tuple(v for v in LABELS if v != "xxx")
FOUR = {"neutral": "neutral", "happy": "happy", "excited": "happy", "sad": "sad", "angry": "angry"}
#: the six classes of emotion recognition in conversation (DialogueRNN, DialogueGCN, …)
SIX = ("happy", "sad", "neutral", "angry", "excited", "frustrated")

_NUM = r"[-+]?\d+(?:\.\d*)?|\.\d+|nan|NaN"
HEAD = re.compile(rf"^\[\s*({_NUM})\s*-\s*({_NUM})\s*\]\s+(\S+)\s+(\S+)\s+"
                  rf"\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*\]\s*$")
RATER = re.compile(r"^([CA])-([^:\s]+):\s*(.*)$")
NOTE = re.compile(r"\(([^()]*)\)\s*$")
ATTR = re.compile(r"\b(val|act|dom)\s*([-+]?\d+(?:\.\d*)?)?", re.I)
TRANS = re.compile(r"^(\S+)\s+\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s*:\s?(.*)$")
TURN_ID = re.compile(r"^(Ses0[1-5])[FM]_.+_([FM])[A-Za-z]*\d+$")
SESSION_DIR = re.compile(r"^Session([1-5])$")


def speaker_of(turn_id: str) -> str:
    """``Ses01F_impro01_M013`` -> ``Ses01M``: session + gender letter of the last field."""
    m = TURN_ID.match(turn_id)
    if not m:
        raise ValueError(f"not an IEMOCAP turn id: {turn_id!r}")
    return m.group(1) + m.group(2)


@register
class IEMOCAP(Corpus):
    name = "iemocap"
    title = "IEMOCAP"
    description = ("Interactive Emotional Dyadic Motion Capture: 10 actors in 5 dyadic sessions, "
                   "10039 turns, English (audio, video, text).")
    modalities = ("audio", "video", "text")
    language = "en"
    default_protocol = {"kind": "logo", "group": "session"}
    # Consensus labels of the full release (the card's "Other 2507" is the xxx count).
    expected = {
        "total": 10039,
        "label": {"xxx": 2507, "frustrated": 1849, "neutral": 1708, "angry": 1103, "sad": 1084,
                  "excited": 1041, "happy": 595, "surprise": 107, "fear": 40, "other": 3,
                  "disgust": 2},
        "session": {"Ses01": 1819, "Ses02": 1811, "Ses03": 2136, "Ses04": 2103, "Ses05": 2170},
    }
    expected_views = {
        "four": {"total": 5531,
                 "y": {"neutral": 1708, "happy": 1636, "angry": 1103, "sad": 1084},
                 "session": {"Ses01": 1085, "Ses02": 1023, "Ses03": 1151, "Ses04": 1031,
                             "Ses05": 1241}},
        # the release's consensus labels restricted to the six ERC classes: the sum of the
        # confirmed per-label totals above. ERC papers quote 7433 (happy 648), counted on the
        # features that DialogueRNN/ICON distribute, whose labels are not the EmoEvaluation
        # consensus for 53 turns; see docs/context.md
        "six": {"total": 7380,
                "y": {"happy": 595, "sad": 1084, "neutral": 1708, "angry": 1103, "excited": 1041,
                      "frustrated": 1849}},
    }
    # Session 5 (2170) and Sessions 1-4 together (7869) are confirmed; the split of those 7869
    # across Sessions 1-4, and the four-class view per session, are not (docs/corpora.md).
    unverified = frozenset({"session/Ses01", "session/Ses02", "session/Ses03", "session/Ses04",
                            "views/four/session"})
    layout_hint = ("IEMOCAP_full_release/Session1..Session5/dialog/EmoEvaluation/<dialog>.txt, "
                   "…/dialog/transcriptions/<dialog>.txt, …/sentences/wav/<dialog>/<turn>.wav")
    licence = "USC IEMOCAP release agreement (research only, on request)"
    canonical = {**{c: c for c in LABELS}, "other": None, "xxx": None}
    labelset = LabelSet(LABELS, {
        "four": LabelView("four", ("neutral", "happy", "sad", "angry"),
                          {lab: FOUR.get(lab) for lab in LABELS},
                          description="neutral / happy (+excited) / sad / angry; the rest dropped"),
        "six": LabelView("six", SIX, {lab: (lab if lab in SIX else None) for lab in LABELS},
                         description="the six ERC classes (happy, sad, neutral, angry, excited, "
                                     "frustrated; excited kept apart); the rest dropped"),
        "all": LabelView.identity("all", ALL, "every consensus label except xxx (no agreement)",
                                  drop=("xxx",)),
        "vad": LabelView.regression("vad", ("valence", "arousal", "dominance"),
                                    "mean rater valence / activation / dominance (1-5), every turn"),
    }, default_view="four")
    #: rows carry dialogue / turn (rank by start time) / speaker: context heads can run on it
    conversational = True

    # -- reading ------------------------------------------------------------------------
    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        sessions = self._sessions(root)
        rows: list[dict] = []
        for k, sdir in sessions:
            ev = sdir / "dialog" / "EmoEvaluation"
            if not ev.is_dir():
                issues.problem(ev, f"{sdir.name} has no dialog/EmoEvaluation/ folder; "
                              f"expected {self.layout_hint}")
                continue
            # Only the files directly inside: the per-rater sub-folders repeat the same turns.
            files = sorted(p for p in ev.iterdir()
                           if p.suffix == ".txt" and not is_hidden(p.name) and p.is_file())
            for f in files:
                rows += self._dialog(sdir, f, on_error, issues)
        if not rows:
            raise CorpusError(f"{root}: no IEMOCAP turns found in any EmoEvaluation file. "
                              f"Expected {self.layout_hint}")
        df = normalize(rows, self.name)
        # turns are ranks, so only a broken copy (one turn id in two dialog files) can fail here
        check_turns(df, str(root), issues, gaps=False)
        return df

    def _sessions(self, root: Path) -> list[tuple[int, Path]]:
        """The Session folders present; a partial copy (e.g. only Session1) is allowed."""
        for base in (root, root / "IEMOCAP_full_release"):
            if base.is_dir():
                found = sorted((int(m.group(1)), p) for p in base.iterdir()
                               if (m := SESSION_DIR.match(p.name)) and p.is_dir())
                if found:
                    return found
        raise CorpusError(f"{root}: not an IEMOCAP root: no Session1..Session5 folders (nor "
                          f"IEMOCAP_full_release/ holding them). Expected {self.layout_hint}")

    def _dialog(self, sdir: Path, path: Path, on_error, issues) -> list[dict]:
        dialog = path.stem
        turns = self._blocks(path, dialog, on_error, issues)
        if not turns:
            return []
        texts = _transcripts(sdir / "dialog" / "transcriptions" / f"{dialog}.txt")
        wav_dir = sdir / "sentences" / "wav" / dialog
        # One listing per dialog instead of a stat per turn: a full copy has 10k turns.
        wavs = set(os.listdir(wav_dir)) if wav_dir.is_dir() else set()
        avi = sdir / "dialog" / "avi" / "DivX" / f"{dialog}.avi"
        video = str(avi) if avi.is_file() else None
        rows = []
        turns.sort(key=lambda t: (t["start"], t["id"]))
        for order, t in enumerate(turns):
            wav = wav_dir / f"{t['id']}.wav"
            if wav.name not in wavs:
                issues.problem(wav, f"missing audio for turn {t['id']} ({path.name}:{t['lineno']})",
                               f"{path}:{t['lineno']}: turn {t['id']}: its audio {wav} is missing{SKIP_HINT}")
                continue
            row = {"id": t["id"], "speaker": t["speaker"], "session": t["session"],
                   "dialogue": dialog, "turn": order, "audio": str(wav), "video": video,
                   "text": texts.get(t["id"]), "language": "en", "label": t["label"],
                   "votes": json.dumps(t["votes"], ensure_ascii=False),
                   "valence": t["v"], "arousal": t["a"], "dominance": t["d"]}
            if "video_start" in COLUMNS:  # see the module docstring
                row["video_start"], row["video_end"] = t["start"], t["end"]
            rows.append(row)
        return rows

    def _blocks(self, path: Path, dialog: str, on_error, issues) -> list[dict]:
        """Parse one EmoEvaluation file into turns; a malformed line is named by file:line.

        Under ``on_error='skip'`` a malformed head line drops its turn, and the rater
        lines after it are ignored with it (they belong to no readable turn).
        """
        turns: list[dict] = []
        cur: dict | None = None
        orphan = False  # inside the block of a head line that could not be read
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("%"):
                    continue
                try:
                    if line.startswith("["):
                        cur, orphan = None, True
                        cur = self._head(line, dialog)
                        cur["lineno"], orphan = lineno, False
                        turns.append(cur)
                    elif (m := RATER.match(line)):
                        if orphan:
                            continue
                        if cur is None:
                            raise ValueError("rater line before any turn head line")
                        _rater(cur["votes"], m)
                    else:
                        raise ValueError("expected a turn head '[start - end]<TAB>id<TAB>label<TAB>"
                                         "[v, a, d]', a rater line 'C-…:' / 'A-…:', or a '%' comment")
                except ValueError as e:
                    issues.problem(f"{path}:{lineno}", f"malformed line: {e}",
                                   f"{path}:{lineno}: malformed line ({e}): {line[:100]!r}")
        return turns

    @staticmethod
    def _head(line: str, dialog: str) -> dict:
        m = HEAD.match(line)
        if not m:
            raise ValueError("turn head line does not read '[start - end]<TAB>id<TAB>label<TAB>[v, a, d]'")
        start, end, tid, code, v, a, d = m.groups()
        if not tid.startswith(dialog + "_"):
            raise ValueError(f"turn id {tid} does not belong to dialog {dialog}")
        if code not in CODES:
            raise ValueError(f"label '{code}' is not an IEMOCAP label ({' '.join(CODES)})")
        spk = speaker_of(tid)  # ValueError names the id
        return {"id": tid, "start": float(start), "end": float(end), "label": CODES[code],
                "v": float(v), "a": float(a), "d": float(d), "speaker": spk, "session": tid[:5],
                "votes": {"categorical": [], "dimensional": []}}

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = []
        if df["video"].notna().any() and "video_start" not in COLUMNS:
            out.append("IEMOCAP video is one AVI per dialog: the manifest's video column points at "
                       "the whole dialog (start/end describe the per-turn audio, which is read whole), "
                       "so per-turn video features cannot be cut from it yet")
        n_text = int(df["text"].isna().sum())
        if n_text:
            out.append(f"{n_text} turn(s) have no transcript line")
        return out + gap_caveat(df)


def _rater(votes: dict, m: re.Match) -> None:
    """Keep one rater line: ``C-E2:  Neutral; Frustration;  (note)`` or ``A-E3: val 3; act 2; dom 2; ()``."""
    kind, rater, rest = m.groups()
    note_m = NOTE.search(rest)
    note = note_m.group(1).strip() if note_m else ""
    body = rest[:note_m.start()] if note_m else rest
    if kind == "C":
        labels = [s.strip() for s in body.split(";") if s.strip()]
        votes["categorical"].append({"rater": rater, "labels": labels, "note": note})
    else:
        vals = {k.lower(): (float(x) if x else None) for k, x in ATTR.findall(body)}
        if not vals:
            raise ValueError("attribute rater line without 'val …; act …; dom …'")
        votes["dimensional"].append({"rater": rater, "valence": vals.get("val"),
                                     "arousal": vals.get("act"), "dominance": vals.get("dom"),
                                     "note": note})


def _transcripts(path: Path) -> dict[str, str]:
    """Turn id -> text from a transcriptions file; lines without a time are not utterances."""
    if not path.is_file():
        return {}
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = TRANS.match(line.strip())
            if m:
                out[m.group(1)] = m.group(4).strip()
    return out
