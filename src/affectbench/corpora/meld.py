"""MELD (Multimodal EmotionLines Dataset, Friends), read from ``MELD.Raw/`` as distributed.

What is read:

- ``{train,dev,test}_sent_emo.csv`` with columns ``Sr No., Utterance, Speaker,
  Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season, Episode, StartTime,
  EndTime``. The text carries mojibake (UTF-8 read as Windows-1252 and saved
  again: ``â€™`` for ``’``); :func:`fix_mojibake` repairs it per string and
  only where a run of characters decodes as UTF-8, so correct text is untouched.
- One clip per utterance: ``train/train_splits/dia{D}_utt{U}.mp4``,
  ``dev/dev_splits_complete/…``, ``test/output_repeated_splits_test/…`` (the
  folders extracted from the per-split archives directly under the root are
  accepted too). The speech exists only inside the mp4, so the clip path goes
  into both ``video`` and ``audio``; :func:`affectbench.audio.load` decodes it
  with PyAV.

Rows: id ``train_dia0_utt0``; ``dialogue`` ``train_dia0``; ``turn`` = Utterance_ID
(rows are ordered by dialogue and turn, so earlier utterances of the same
dialogue are its context); ``speaker`` = the character's name; ``split`` =
train/dev/test; ``label`` = emotion under canonical names (joy -> happy, anger ->
angry, sadness -> sad); ``sentiment`` = -1/0/1. StartTime/EndTime locate the clip
in the episode, not inside the clip, so they do not go into ``start``/``end``
(which would cut the already cut clip).

Dialogue order: Utterance_ID counts 0, 1, … inside each dialogue; a turn that appears twice
is a malformed row, and a dialogue whose ids skip a number is refused under
``on_error='raise'`` (the copy lost an utterance, so context heads would see another
conversation) and reported as a caveat under ``'skip'`` (affectbench.dialogue).

Views: ``seven`` (the emotions) and ``sentiment`` (negative / neutral / positive, from the
Sentiment column).

Missing clips (the release lacks a few): with ``on_error='raise'`` the error
lists how many and which; with ``'skip'`` the rows are kept with empty media
columns (their text is still usable) and each is recorded. A split with no clip
folder at all is a text-only copy: its media columns are empty, a caveat says
so, and it is not an error.

The official split is not speaker-independent (the same six friends are in
every split); the default protocol says so.
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pandas as pd

from ..dialogue import check_turns, gap_caveat
from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import Corpus, is_hidden, register
from .emotiontalk import TargetView

SPLITS = {
    "train": ("train_sent_emo.csv", ("train/train_splits", "train_splits")),
    "dev": ("dev_sent_emo.csv", ("dev/dev_splits_complete", "dev_splits_complete")),
    "test": ("test_sent_emo.csv", ("test/output_repeated_splits_test", "output_repeated_splits_test")),
}
EMOTIONS = {"neutral": "neutral", "joy": "happy", "surprise": "surprise", "anger": "angry",
            "sadness": "sad", "disgust": "disgust", "fear": "fear"}
SENTIMENT = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
REQUIRED = ("Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID")
SEVEN = ("neutral", "happy", "surprise", "angry", "sad", "disgust", "fear")

# -- mojibake -------------------------------------------------------------------------------
# Each character that Windows-1252 (or, for its five holes and the C1 range, Latin-1) maps
# to a byte >= 0x80, and that byte.
_BYTE: dict[str, int] = {}
for _b in range(0x80, 0x100):
    try:
        _BYTE[bytes([_b]).decode("cp1252")] = _b
    except UnicodeDecodeError:
        _BYTE[chr(_b)] = _b
for _b in range(0x80, 0xA0):
    _BYTE.setdefault(chr(_b), _b)
_RUN = re.compile("[" + "".join(re.escape(c) for c in sorted(_BYTE)) + "]{2,}")


def _lead_len(b: int) -> int:
    return 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0


def _repair_run(m: re.Match) -> str:
    chars, out, i = m.group(), [], 0
    while i < len(chars):
        n = _lead_len(_BYTE[chars[i]])
        if n and i + n <= len(chars):
            try:
                out.append(bytes(_BYTE[c] for c in chars[i:i + n]).decode("utf-8"))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append(chars[i])
        i += 1
    return "".join(out)


def fix_mojibake(s: str) -> str:
    """Undo UTF-8-read-as-cp1252/latin-1 (``itâ€™s`` -> ``it’s``, ``â\\x80\\x99`` -> ``’``).

    Works on runs of high characters only and re-decodes a sequence only when its
    bytes form valid UTF-8, so text that is already right (``café``) stays as it is.
    """
    if not s or s.isascii():
        return s
    return _RUN.sub(_repair_run, s)


def _int(value: str, column: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"{column} {value!r} is not an integer") from None


# -- adapter --------------------------------------------------------------------------------
@register
class MELD(Corpus):
    name = "meld"
    title = "MELD"
    description = ("Multimodal EmotionLines Dataset: dialogues from the TV series Friends, 7 emotions "
                   "+ sentiment, official train/dev/test, English (audio, video, text).")
    modalities = ("audio", "video", "text")
    language = "en"
    # The official split shares its speakers across train/dev/test: not speaker-independent.
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {
        "total": 13708,
        "split": {"train": 9989, "dev": 1109, "test": 2610},
        "label": {"neutral": 6436, "happy": 2308, "surprise": 1636, "angry": 1607, "sad": 1002,
                  "disgust": 361, "fear": 358},
    }
    layout_hint = ("MELD.Raw/{train,dev,test}_sent_emo.csv and the clips train/train_splits/dia{D}_utt{U}.mp4, "
                   "dev/dev_splits_complete/…, test/output_repeated_splits_test/…")
    licence = "GPL-3.0 (the MELD repository)"
    canonical = {c: c for c in SEVEN}
    labelset = LabelSet(SEVEN, {
        "seven": LabelView.identity("seven", SEVEN, "the 7 MELD emotions (joy = happy)"),
        "sentiment": TargetView(name="sentiment", classes=("negative", "neutral", "positive"),
                                mapping={"negative": "negative", "zero": "neutral", "positive": "positive"},
                                description="the release's sentiment column (3 classes)",
                                source="sentiment"),
    }, default_view="seven")
    #: rows carry dialogue / turn (= Utterance_ID) / speaker: context heads can run on it
    conversational = True

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = self._base(root)
        rows: list[dict] = []
        missing: list[str] = []
        for split, (csv_name, clip_dirs) in SPLITS.items():
            path = base / csv_name
            if not path.is_file():
                continue  # a partial copy: check() reports the missing split
            clip_dir = next((base / d for d in clip_dirs if (base / d).is_dir()), None)
            clips = None
            if clip_dir is not None:
                clips = {fn for fn in os.listdir(clip_dir) if not is_hidden(fn)}
            first_row = len(rows)
            for rec in self._rows(path, split, on_error, issues):
                if clip_dir is not None:
                    fn = f"dia{rec.pop('_d')}_utt{rec.pop('_u')}.mp4"
                    if fn in clips:
                        rec["audio"] = rec["video"] = str(clip_dir / fn)
                    else:
                        missing.append(str(clip_dir / fn))
                        issues.add(clip_dir / fn, f"clip missing; {rec['id']} kept without audio/video")
                else:
                    rec.pop("_d"), rec.pop("_u")
                rows.append(rec)
            if len(rows) > first_row:  # Utterance_ID counts 0, 1, … in each dialogue
                check_turns(pd.DataFrame(rows[first_row:]), str(path), issues)
        if missing and on_error == "raise":
            shown = "\n  ".join(missing[:5])
            raise CorpusError(f"{len(missing)} MELD clip(s) named in the CSVs are missing, e.g.\n  {shown}\n"
                              "Set on_error='skip' to keep these utterances without audio/video "
                              "(their text is still used).")
        if not rows:
            raise CorpusError(f"{base}: no MELD utterances in any *_sent_emo.csv")
        df = normalize(rows, self.name)
        order = df["split"].map({s: i for i, s in enumerate(SPLITS)})
        did = df["dialogue"].str.rsplit("dia", n=1).str[1].astype(int)
        df = df.assign(_o=order, _d=did).sort_values(["_o", "_d", "turn"], kind="stable")
        return df.drop(columns=["_o", "_d"]).reset_index(drop=True)

    def _base(self, root: Path) -> Path:
        for base in (root, root / "MELD.Raw"):
            if any((base / csv_name).is_file() for csv_name, _ in SPLITS.values()):
                return base
        raise CorpusError(f"{root}: not a MELD root: none of train_sent_emo.csv, dev_sent_emo.csv, "
                          f"test_sent_emo.csv (here or in MELD.Raw/). Expected {self.layout_hint}")

    def _rows(self, path: Path, split: str, on_error, issues):
        seen: dict[tuple[int, int], int] = {}
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:  # a copy re-saved in a Windows code page
            text = path.read_bytes().decode("cp1252", errors="replace")
        rd = csv.reader(text.splitlines(keepends=True))
        header = [h.strip() for h in next(rd, [])]
        absent = [c for c in REQUIRED if c not in header]
        if absent:
            raise CorpusError(f"{path}:1: header lacks {absent}; expected the columns Sr No., Utterance, "
                              "Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID, Season, Episode, "
                              "StartTime, EndTime")
        col = {c: header.index(c) for c in REQUIRED}
        for rec in rd:
            lineno = rd.line_num
            if not any(f.strip() for f in rec):
                continue
            try:
                if len(rec) < len(header):
                    raise ValueError(f"{len(rec)} fields, the header has {len(header)}")
                d, u = (_int(rec[col[c]], c) for c in ("Dialogue_ID", "Utterance_ID"))
                emo = rec[col["Emotion"]].strip().lower()
                if emo not in EMOTIONS:
                    raise ValueError(f"emotion '{rec[col['Emotion']]}' is not one of {', '.join(EMOTIONS)}")
                sen = rec[col["Sentiment"]].strip().lower()
                if sen not in SENTIMENT:
                    raise ValueError(f"sentiment '{rec[col['Sentiment']]}' is not one of "
                                     f"{', '.join(SENTIMENT)}")
                if (d, u) in seen:
                    raise ValueError(f"dia{d}_utt{u} already appears on line {seen[(d, u)]}")
                seen[(d, u)] = lineno
            except ValueError as e:
                issues.problem(f"{path}:{lineno}", f"malformed row: {e}", f"{path}:{lineno}: malformed row ({e})")
                continue
            yield {"id": f"{split}_dia{d}_utt{u}", "speaker": fix_mojibake(rec[col["Speaker"]].strip()),
                   "dialogue": f"{split}_dia{d}", "turn": u, "split": split,
                   "text": fix_mojibake(rec[col["Utterance"]].strip()), "language": "en",
                   "label": EMOTIONS[emo], "sentiment": SENTIMENT[sen], "_d": d, "_u": u}

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = ["official split, not speaker-independent: the same main characters speak in "
               "train, dev and test"] + gap_caveat(df)
        for split, n_missing in df["video"].isna().groupby(df["split"].astype(object)).sum().items():
            n_all = int((df["split"] == split).sum())
            if n_missing == n_all:
                out.append(f"{split}: no clips in this copy (text only)")
            elif n_missing:
                out.append(f"{split}: {int(n_missing)} of {n_all} utterances have no clip (text only)")
        return out
