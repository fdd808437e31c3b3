"""MSP-IMPROV, read from the ``MSP-IMPROV/`` folder as distributed.

What is read:

- ``Evaluation.txt`` (some copies spell it ``Evalution.txt``): blocks separated by
  blank lines. The head line of a block
  ``UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.400000; V:2.200000; D:3.000000 ; N:3.800000;``
  gives the utterance, the consensus category (A angry, H happy, S sad, N
  neutral, O other, X no agreement) and the mean arousal, valence, dominance and
  naturalness. Each following line is one rater:
  ``<rater>; <Category>; <secondary emotions, possibly empty>; A:…; V:…; D:…; N:…;``.
  Rater lines are kept, as JSON, in ``votes`` (duplicates as they are: some
  copies repeat a rater line verbatim, and deciding what that means belongs to
  vote aggregation, not to reading).
- Audio ``Audio/session<k>/<S01A>/<P>/MSP-IMPROV-S01A-F01-P-FM01.wav``; some copies
  lack the ``Audio/`` level (``session<k>/…`` at the root). Video ``.avi`` likewise
  under ``Video/`` or beside the audio. Files are found by name anywhere in those
  trees, so either layout (and mixtures) work. Audio is 44.1 kHz: extractors
  resample (``affectbench.audio.load``).
- Transcripts are not part of every copy. When present they are read from, in
  this order: any ``*.csv`` / ``*.tsv`` file at the root whose header has the
  columns ``id`` and ``text`` (ids with or without the ``MSP-``/``UTD-`` prefix and
  extension); per-utterance ``Text/<id>.txt`` or ``All_human_transcriptions/**/<id>.txt``.

The manifest id is the benchmark card's ``MSP-IMPROV-S01A-F01-P-FM01`` (the
``UTD-`` prefix and extension dropped). Id fields: sentence + target scenario
``S01A``, speaker ``F01`` (gender, number 01-06), condition ``P``/``R``/``S``/``T``,
dyad index ``FM01``. ``speaker`` = ``F01``; ``session`` = ``session<k>`` where k is
the speaker's number (each session pairs F0k with M0k), so leave-one-session-out
(6 folds) is speaker-independent. X (no agreement) is kept as ``xxx``, as for
IEMOCAP, and every view drops it.
"""
from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, is_hidden, register

CATEGORIES = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral", "O": "other", "X": "xxx"}
LABELS = tuple(CATEGORIES.values())
EVAL_NAMES = ("Evaluation.txt", "Evalution.txt")

_NUM = r"[-+]?\d+(?:\.\d*)?|NaN|nan"
HEAD = re.compile(rf"^UTD-IMPROV-(?P<id>[A-Za-z0-9-]+)\.(?:avi|wav|mp4)\s*;\s*(?P<cat>[A-Za-z])\s*;"
                  rf"\s*A:\s*(?P<a>{_NUM})\s*;\s*V:\s*(?P<v>{_NUM})\s*;\s*D:\s*(?P<d>{_NUM})\s*;"
                  rf"\s*N:\s*(?P<n>{_NUM})\s*;?\s*$")
RATER = re.compile(rf"^(?P<rater>[^;]+?)\s*;\s*(?P<cat>[^;]*?)\s*;(?P<soft>.*?)"
                   rf"\bA:\s*(?P<a>{_NUM})\s*;\s*V:\s*(?P<v>{_NUM})\s*;\s*D:\s*(?P<d>{_NUM})\s*;"
                   rf"\s*N:\s*(?P<n>{_NUM})\s*;?\s*$")
UTT = re.compile(r"^S(?P<sent>\d\d)(?P<scen>[A-Z])-(?P<spk>(?P<g>[FM])(?P<num>\d\d))-(?P<cond>[A-Z])-"
                 r"(?P<dyad>[A-Z]+\d+)$")


def utterance_id(name: str) -> str:
    """``UTD-IMPROV-S01A-F01-P-FM01.avi`` / ``…wav`` / bare fields -> ``MSP-IMPROV-S01A-F01-P-FM01``."""
    s = Path(name.strip()).name
    for ext in (".avi", ".wav", ".mp4", ".txt"):
        if s.lower().endswith(ext):
            s = s[: -len(ext)]
    for pre in ("MSP-IMPROV-", "UTD-IMPROV-"):
        if s.upper().startswith(pre):
            s = s[len(pre):]
    return "MSP-IMPROV-" + s


@register
class MSPImprov(Corpus):
    name = "msp_improv"
    title = "MSP-IMPROV"
    description = ("Acted dyadic improvisations: 12 actors in 6 sessions, 8438 utterances, English "
                   "(audio, video; text when transcripts are given).")
    modalities = ("audio", "video", "text")
    language = "en"
    default_protocol = {"kind": "logo", "group": "session"}
    expected = {"total": 8438}
    expected_views = {
        "four": {"total": 7798, "y": {"neutral": 3477, "happy": 2644, "sad": 885, "angry": 792}},
    }
    unverified = frozenset({"total", "views/four/y"})  # only the 7798 four-class total is confirmed
    layout_hint = ("MSP-IMPROV/Evaluation.txt (or Evalution.txt) and "
                   "[Audio/]session<k>/<S01A>/<P>/MSP-IMPROV-S01A-F01-P-FM01.wav")
    licence = "UT Dallas MSP-IMPROV academic licence (research only, on request)"
    canonical = {**{c: c for c in LABELS}, "other": None, "xxx": None}
    labelset = LabelSet(LABELS, {
        "four": LabelView.identity("four", ("neutral", "happy", "sad", "angry"),
                                   "A/H/N/S; other and no-agreement dropped", drop=("other", "xxx")),
        "all": LabelView.identity("all", ("neutral", "happy", "sad", "angry", "other"),
                                  "every consensus category except X (no agreement)", drop=("xxx",)),
        "vad": LabelView.regression("vad", ("valence", "arousal", "dominance"),
                                    "mean rater valence / arousal / dominance (1-5); NaN rows dropped"),
    }, default_view="four")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        root, ev = self._root(root)
        utts = self._evaluation(ev, on_error, issues)
        wavs = _index(_trees(root, "Audio"), ".wav")
        avis = _index(_trees(root, "Video"), ".avi")
        texts = _transcripts(root, on_error, issues)
        rows = []
        for u in utts:
            uid = u["id"]
            wav = wavs.get(uid)
            if wav is None:
                m = UTT.match(uid[len("MSP-IMPROV-"):])
                where = (root / "Audio" / u["session"] / f"S{m['sent']}{m['scen']}" / m["cond"]
                         / f"{uid}.wav")
                issues.problem(where, f"missing audio for {uid} ({ev.name}:{u['lineno']})",
                               f"{ev}:{u['lineno']}: utterance {uid}: its audio {where} is missing "
                               f"(searched Audio/ and session*/ at the root){SKIP_HINT}")
                continue
            rows.append({"id": uid, "speaker": u["speaker"], "session": u["session"],
                         "audio": wav, "video": avis.get(uid), "text": texts.get(uid),
                         "language": "en", "label": u["label"], "votes": json.dumps(u["votes"]),
                         "valence": u["v"], "arousal": u["a"], "dominance": u["d"]})
        if not rows:
            raise CorpusError(f"{ev}: no utterance with audio found. Expected {self.layout_hint}")
        df = normalize(rows, self.name)
        return df.sort_values(["session", "id"], kind="stable").reset_index(drop=True)

    def _root(self, root: Path) -> tuple[Path, Path]:
        for base in (root, root / "MSP-IMPROV"):
            for name in EVAL_NAMES:
                if (base / name).is_file():
                    return base, base / name
        raise CorpusError(f"{root}: not an MSP-IMPROV root: no Evaluation.txt (or Evalution.txt). "
                          f"Expected {self.layout_hint}")

    def _evaluation(self, path: Path, on_error, issues) -> list[dict]:
        """Parse Evaluation.txt into utterances; malformed lines are named by file:line."""
        utts: list[dict] = []
        seen: set[str] = set()
        cur: dict | None = None
        orphan = False  # inside the block of a head line that could not be read
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line:
                    cur, orphan = None, False
                    continue
                if line.startswith("%"):
                    continue
                try:
                    if line.startswith("UTD-"):
                        cur, orphan = None, True
                        cur = _head(line)
                        if cur["id"] in seen:
                            raise ValueError(f"{cur['id']} already has an evaluation block above")
                        seen.add(cur["id"])
                        cur["lineno"], orphan = lineno, False
                        utts.append(cur)
                    elif orphan:
                        continue
                    elif cur is None:
                        raise ValueError("a rater line outside an utterance block (no 'UTD-…' head "
                                         "line above it)")
                    else:
                        _rater(cur["votes"], line)
                except ValueError as e:
                    issues.problem(f"{path}:{lineno}", f"malformed line: {e}",
                                   f"{path}:{lineno}: malformed line ({e}): {line[:100]!r}")
        if not utts:
            raise CorpusError(f"{path}: no 'UTD-IMPROV-…' lines: this is not an MSP-IMPROV "
                              f"evaluation file. Expected {self.layout_hint}")
        return utts

    def caveats(self, df: pd.DataFrame) -> list[str]:
        out = []
        n = int(df["text"].isna().sum())
        if n == len(df):
            out.append("no transcripts in this copy (give a CSV/TSV id,text at the root): text "
                       "extractors cannot run")
        elif n:
            out.append(f"{n} utterance(s) have no transcript")
        return out


def _f(x: str) -> float:
    return float("nan") if x.lower() == "nan" else float(x)


def _head(line: str) -> dict:
    m = HEAD.match(line)
    if not m:
        raise ValueError("head line does not read 'UTD-IMPROV-<id>.avi; <A|H|S|N|O|X>; A:…; V:…; "
                         "D:…; N:…;'")
    core = m["id"]
    u = UTT.match(core)
    if not u:
        raise ValueError(f"utterance name {core!r} does not read S01A-F01-P-FM01")
    cat = m["cat"].upper()
    if cat not in CATEGORIES:
        raise ValueError(f"category '{m['cat']}' is not one of {'/'.join(CATEGORIES)}")
    return {"id": "MSP-IMPROV-" + core, "label": CATEGORIES[cat], "speaker": u["spk"],
            "session": f"session{int(u['num'])}", "a": _f(m["a"]), "v": _f(m["v"]),
            "d": _f(m["d"]), "n": _f(m["n"]), "votes": {"categorical": [], "dimensional": []}}


def _rater(votes: dict, line: str) -> None:
    m = RATER.match(line)
    if not m:
        raise ValueError("rater line does not read '<rater>; <Category>; <others>; A:…; V:…; D:…; N:…;'")
    soft = [s.strip() for s in re.split(r"[;,]", m["soft"]) if s.strip()]
    votes["categorical"].append({"rater": m["rater"], "labels": [m["cat"]] if m["cat"] else [],
                                 "secondary": soft})
    # NaN (a rater who gave no value) is written as JSON null, not as the non-standard NaN token.
    num = {k: (None if m[k].lower() == "nan" else float(m[k])) for k in "avdn"}
    votes["dimensional"].append({"rater": m["rater"], "arousal": num["a"], "valence": num["v"],
                                 "dominance": num["d"], "naturalness": num["n"]})


def _trees(root: Path, top: str) -> list[Path]:
    """Where media can be: ``<top>/`` and, for copies without that level, ``session*/`` at the root."""
    out = [root / top] if (root / top).is_dir() else []
    out += sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("session"))
    return out


def _index(trees: list[Path], suffix: str) -> dict[str, str]:
    """Utterance id -> path for every ``suffix`` file below ``trees`` (one walk, no per-id stat)."""
    out: dict[str, str] = {}
    for tree in trees:
        for dirpath, dirs, files in os.walk(tree):
            dirs[:] = [x for x in dirs if not is_hidden(x)]
            for fn in files:
                if fn.lower().endswith(suffix) and not is_hidden(fn):
                    out.setdefault(utterance_id(fn), os.path.join(dirpath, fn))
    return out


def _transcripts(root: Path, on_error, issues) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(root.iterdir()):
        if p.suffix.lower() not in (".csv", ".tsv") or not p.is_file() or is_hidden(p.name):
            continue
        with open(p, encoding="utf-8-sig", errors="replace", newline="") as f:
            rd = csv.reader(f, delimiter="\t" if p.suffix.lower() == ".tsv" else ",")
            header = [h.strip().lower() for h in next(rd, [])]
            if "id" not in header or "text" not in header:
                continue  # some other table; only id,text files are transcripts
            i, j = header.index("id"), header.index("text")
            for rec in rd:
                if len(rec) <= max(i, j):
                    issues.problem(f"{p}:{rd.line_num}", "malformed transcript row",
                                   f"{p}:{rd.line_num}: transcript row has {len(rec)} fields, needs id and text")
                    continue
                if rec[i].strip():
                    out.setdefault(utterance_id(rec[i]), rec[j].strip())
    for sub in ("Text", "All_human_transcriptions"):
        if (root / sub).is_dir():
            for dirpath, dirs, files in os.walk(root / sub):
                dirs[:] = [x for x in dirs if not is_hidden(x)]
                for fn in files:
                    if fn.endswith(".txt") and not is_hidden(fn):
                        uid = utterance_id(fn)
                        if uid not in out:
                            with open(os.path.join(dirpath, fn), encoding="utf-8", errors="replace") as f:
                                out[uid] = f.read().strip()
    return out
