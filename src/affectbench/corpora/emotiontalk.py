"""EmotionTalk (Chinese dyadic dialogues, BAAI/Emotiontalk), read from the release's tar
shards or from an extracted copy.

Layout: ``data/audio/*.tar``, ``data/Text/*.tar``,
``data/Video/*.tar``, ``data/Multimodal/*.tar``. Every file is keyed by its path
``G00002/G00002_01/G00002_01_07/G00002_01_07_001.{wav,mp4,json}`` = group /
dialogue / speaker / utterance; any prefix in front of the key inside a shard
(``Text/json/…``) is accepted. Each modality has its own annotation JSON per
utterance: five raters ``data.{A..E}.{emotion, Confidence_degree,
Continuous_label}`` and the released consensus ``emotion_result``.

Shards are read in place (:mod:`affectbench.tario`): annotation JSONs are read,
WAV/MP4 members are only indexed and stay inside the shard; the manifest's
``audio``/``video`` then hold ``tar:///abs/shard.tar#member`` URIs that
:func:`affectbench.tario.open_member` opens. From an extracted tree they are plain paths.

Manifest:
  * ``id`` ``G00002_01_07_001``; ``session`` = group ``G00002``; ``dialogue``
    ``G00002_01``; ``turn`` = utterance number (numbers run across both speakers of a
    dialogue, so they order the turns).
  * ``speaker`` = the release's ``speaker_id`` (``"07"``), which is the same as the
    speaker field of the path. It is a corpus-wide actor id, not a position in the
    dialogue: in the authors' own label lists (flageval-baai/EmotionTalk,
    ``dataset/mm-process/mm.csv``) group G00009 holds speakers 12 and 14 in every one
    of its dialogues, the README example has speaker 07 in G00002 (not 01/02), and
    Table 6 of the paper calls it the "unique speaker identifier". Scoping it by group
    would split one actor into several "speakers". So a person keeps one id across
    groups (19 in all), and the official group split is *not* speaker-independent.
    A JSON ``speaker_id`` that disagrees with its path is an error.
  * ``split``: by group: G00001 + G00012 → ``dev``, G00003 + G00015 → ``test``, every
    other group → ``train`` (15413 / 1908 / 1929).
  * ``label``: the multimodal consensus (``emotion_result`` of the Multimodal JSON, or
    re-aggregated, see ``aggregation``); ``label_text/_audio/_video/_multimodal`` side by
    side; ``votes``: JSON ``{modality: {"result": release label, "raters": {"A":
    {"emotion", "confidence" (c = degree/10), "continuous"}}}}``; ``sentiment`` = the
    multimodal ``Continuous label_result`` (mean of five ratings in -2..2).
  * ``meta``: JSON of the audio annotation's ``startTime``/``endTime``/``duration`` (in
    the session) and captions (``emo_cap``, ``spe_cap``, ``style_cap``, ``caption_1..5``).
  * ``caption_speaker`` / ``caption_style`` / ``caption_emotion`` (``spe_cap``,
    ``style_cap``, ``emo_cap`` of the audio JSON) and ``caption_overall`` (JSON list of
    ``caption_1..5``, the LLM-varied versions of the integrated caption): the four
    caption dimensions of the paper's captioning task (also still in ``meta``).
  * ``text``: the transcript as released, markup kept (``[over/]…[/over]``,
    ``[interrupted]``); :func:`strip_markup` (via :meth:`EmotionTalk.text_for_features`)
    is what text encoders should see.

Aggregation (``[corpus.options] aggregation = …``): ``release`` (default, the released
``emotion_result``), ``weighted`` (the paper's §3.2 rule re-applied to the votes,
:func:`affectbench.agreement.aggregate_weighted`) or ``majority``; applied to every
modality's label. :meth:`EmotionTalk.agreement_report` compares them with the release
and gives Fleiss' kappa per modality.

Missing pieces: the Multimodal annotations are required (they carry ``label``); a
missing annotation JSON of another modality, or a missing WAV, is a problem
(``on_error="raise"`` stops, ``"skip"`` keeps the utterance with that column empty and
lists it). Absent video media are not an error: the ``video`` column stays empty and
a caveat says how many (the video *labels* come from the JSON).

Views: ``all`` (7) and ``four`` (neutral, happy, sad, angry) on the multimodal label;
``<modality>_all`` / ``<modality>_four`` train on that modality's own labels (the
paper's "Speech(Four)" etc.); ``binary``: sentiment > 0 positive, < 0 negative, 0
dropped. The views read their own source column, so they are correct whether or
not the caller runs :meth:`EmotionTalk.select_target` first.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import agreement as agr
from ..errors import CorpusError
from ..dialogue import check_turns, gap_caveat
from ..labels import LabelSet, LabelView, canonical
from ..manifest import normalize
from .. import tario
from .base import Corpus, is_hidden, is_hidden_path, register

MODALITIES = ("audio", "text", "video", "multimodal")
CLASSES = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
FOUR = ("neutral", "happy", "sad", "angry")
SPLIT_OF_GROUP = {"G00001": "dev", "G00012": "dev", "G00003": "test", "G00015": "test"}
AGGREGATIONS = ("release", "weighted", "majority")
PAPER_KAPPA = {"audio": 0.79, "text": 0.66, "video": 0.73, "multimodal": 0.78}

# README / paper Table 7, multimodal labels.
_README = {
    "train": {"angry": 2950, "disgust": 1142, "fear": 672, "happy": 2986, "neutral": 5377,
              "sad": 919, "surprise": 1367},
    "dev": {"angry": 409, "disgust": 95, "fear": 125, "happy": 360, "neutral": 675, "sad": 111,
            "surprise": 133},
    "test": {"angry": 339, "disgust": 134, "fear": 125, "happy": 246, "neutral": 801, "sad": 123,
             "surprise": 161},
}
_TOTALS = {c: sum(s[c] for s in _README.values()) for c in CLASSES}

#: group/dialogue/speaker/utterance, each level repeating the one above; any prefix.
KEY = re.compile(r"(?:^|/)(?P<g>G\d+)/(?P=g)_(?P<d>\d+)/(?P=g)_(?P=d)_(?P<s>\d+)/"
                 r"(?P=g)_(?P=d)_(?P=s)_(?P<u>\d+)\.(?P<ext>jsonl?|wav|mp4)$", re.IGNORECASE)
_LOOKS_LIKE_KEY = re.compile(r"(?:^|/)G\d+_\d+_\d+_\d+\.(?:jsonl?|wav|mp4)$", re.IGNORECASE)
#: audio-JSON fields carried into ``meta`` (times in the session, the four caption kinds)
_EXTRA = ("startTime", "endTime", "duration", "emo_cap", "spe_cap", "style_cap",
          "caption_1", "caption_2", "caption_3", "caption_4", "caption_5")
_SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_MEDIA_EXT = {"audio": ("wav",), "video": ("mp4",), "multimodal": ("mp4",), "text": ()}

# Markup in transcripts: [over/] … [/over], [interrupted], [laugh] … A bracketed token
# without spaces is a tag; the words between tags stay.
_TAG = re.compile(r"\[/?[^\[\]\s]{1,32}/?\]")


def strip_markup(text: str | None) -> str | None:
    """The transcript without annotation tags: ``"[over/]好的[/over][interrupted]"`` → ``"好的"``.

    Drops every bracketed token without spaces (``[over/]``, ``[/over]``,
    ``[interrupted]``, ``[laugh]``), keeps the words, and does not glue two Latin
    words together where a tag separated them. ``None`` stays ``None``.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text)

    def repl(m: re.Match) -> str:
        before = s[m.start() - 1] if m.start() > 0 else ""
        after = s[m.end()] if m.end() < len(s) else ""
        return " " if (before.isascii() and before.isalnum() and after.isascii() and after.isalnum()) else ""

    out = _TAG.sub(repl, s)
    return re.sub(r"\s+", " ", out).strip()


#: manifest caption column -> the audio JSON's field(s) (paper Table 6)
CAPTION_FIELDS = {"caption_speaker": ("spe_cap",), "caption_style": ("style_cap",),
                  "caption_emotion": ("emo_cap",),
                  "caption_overall": tuple(f"caption_{i}" for i in range(1, 6))}


def caption_columns(extra: dict | None) -> dict:
    """The four caption dimensions of one utterance; the five overall versions as a JSON list."""
    extra = extra or {}
    out = {}
    for col, fields in CAPTION_FIELDS.items():
        vals = [str(extra[f]).strip() for f in fields if str(extra.get(f) or "").strip()]
        if col == "caption_overall":
            out[col] = json.dumps(vals, ensure_ascii=False) if vals else None
        else:
            out[col] = vals[0] if vals else None
    return out


def _speaker_id(v) -> str:
    s = str(v).strip()
    return f"{int(s):02d}" if s.isdigit() else s


# ------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class TargetView(LabelView):
    """A view that first takes its target from ``source``: a label column or ``sentiment``.

    EmotionTalk carries one label per modality; ``audio_four`` must train on
    ``label_audio`` even though views map the ``label`` column. The view copies its
    source into ``label`` itself, so it cannot silently read the wrong column.
    Rows without a target (no annotation for that modality, no sentiment) are dropped;
    how many is in ``attrs["dropped_no_target"]`` of the result.
    """

    source: str = "label"

    def apply(self, df: pd.DataFrame) -> pd.DataFrame:
        out = select_target(df, self.source)
        missing = out["label"].isna()
        n = int(missing.sum())
        res = LabelView.apply(self, out[~missing].reset_index(drop=True))
        res.attrs["dropped_no_target"] = n
        return res


def select_target(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """A copy of ``df`` whose ``label`` is taken from ``source`` (column name or ``sentiment``)."""
    out = df.copy()
    if source == "label":
        return out
    if source == "sentiment":
        s = pd.to_numeric(out["sentiment"], errors="coerce").to_numpy(dtype=float)
        lab = np.where(s > 0, "positive", np.where(s < 0, "negative", "zero")).astype(object)
        lab[np.isnan(s)] = None
        out["label"] = pd.Series(lab, index=out.index, dtype="string")
        return out
    if source not in out.columns:
        raise CorpusError(f"view target column '{source}' is not in the manifest")
    out["label"] = out[source].astype("string")
    return out


def _views() -> dict[str, LabelView]:
    drop3 = tuple(c for c in CLASSES if c not in FOUR)
    views: dict[str, LabelView] = {}
    for prefix, source, what in [("", "label", "multimodal consensus")] + [
            (f"{m}_", f"label_{m}", f"{m} annotators' labels") for m in MODALITIES]:
        views[f"{prefix}all"] = TargetView(name=f"{prefix}all", classes=CLASSES,
                                           mapping={c: c for c in CLASSES},
                                           description=f"7 emotions, {what}", source=source)
        four = {c: c for c in FOUR}
        four.update({d: None for d in drop3})
        views[f"{prefix}four"] = TargetView(name=f"{prefix}four", classes=FOUR, mapping=four,
                                            description=f"neutral/happy/sad/angry, {what}",
                                            source=source)
    views["binary"] = TargetView(
        name="binary", classes=("negative", "positive"),
        mapping={"negative": "negative", "positive": "positive", "zero": None},
        description="continuous sentiment: < 0 negative, > 0 positive, 0 dropped", source="sentiment")
    # the paper's continuous task as regression on the averaged raw value (-2 … 2)
    views["sentiment"] = LabelView.regression("sentiment", ["sentiment"],
                                              "continuous sentiment, the mean of 5 annotators (-2 … 2)")
    return views


# ------------------------------------------------------------------------------ reading


@dataclass
class _Ann:
    """What the adapter keeps of one annotation JSON."""

    result: str | None
    raters: dict  # name -> (emotion, confidence, continuous); tuples keep 77k annotations small
    speaker: str | None
    content: str | None
    sentiment: float | None
    extra: dict | None = None  # audio JSON: times and captions, kept in the manifest's ``meta``


class _Problems:
    """Collects (where, problem); raises once with a summary under on_error='raise'."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def add(self, where, problem):
        self.items.append((str(where), problem))

    def flush(self, on_error, issues, what: str):
        if not self.items:
            return
        if on_error == "raise":
            eg = "; ".join(f"{w}: {p}" for w, p in self.items[:3])
            more = f" (and {len(self.items) - 3} more)" if len(self.items) > 3 else ""
            raise CorpusError(f"EmotionTalk {what}: {len(self.items)} problem(s): {eg}{more}. "
                              "Set on_error='skip' to leave those out and list them.")
        for w, p in self.items:
            issues.add(w, p)
        self.items = []


def _parse_json(raw: bytes, where: str) -> dict:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 ({e})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        if len(lines) >= 1:  # .jsonl: one object per line, the first is the utterance
            try:
                obj = json.loads(lines[0])
            except json.JSONDecodeError:
                raise ValueError(f"invalid JSON ({e})") from None
        else:
            raise ValueError(f"invalid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, found {type(obj).__name__}")
    return obj


_KNOWN: dict = {}


def _label(name, what: str) -> str:
    c = _KNOWN.get(name)
    if c is not None:
        return c
    c = canonical(name)
    if c in CLASSES and isinstance(name, str):
        _KNOWN[name] = c
    if c not in CLASSES:
        raise ValueError(f"{what} '{name}' is not an EmotionTalk emotion (valid: happy, surprise, "
                         f"sad, disgust, angry, fear, neutral and their usual spellings)")
    return c


def _annotation(obj: dict, stem: str) -> _Ann:
    data = obj.get("data")
    if not isinstance(data, dict) or not data:
        raise ValueError("no 'data' object with the raters' annotations")
    raters = {}
    for rater in sorted(data):
        r = data[rater]
        if not isinstance(r, dict) or "emotion" not in r:
            raise ValueError(f"rater {rater}: expected {{emotion, Confidence_degree, Continuous_label}}")
        try:
            conf = agr.confidence_from_degree(r.get("Confidence_degree"))
        except ValueError as e:
            raise ValueError(f"rater {rater}: {e}") from None
        cont = r.get("Continuous_label")
        try:
            cont = None if cont is None or cont == "" else float(cont)
        except (TypeError, ValueError):
            raise ValueError(f"rater {rater}: Continuous_label {cont!r} is not a number") from None
        raters[rater] = (_label(r["emotion"], f"rater {rater} emotion"), conf, cont)
    result = obj.get("emotion_result")
    result = None if result in (None, "") else _label(result, "emotion_result")
    fname = obj.get("file_name") or obj.get("file_path")
    if fname:
        fstem = str(fname).replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if fstem != stem:
            raise ValueError(f"file_name '{fname}' names another utterance")
    sent = obj.get("Continuous label_result")
    try:
        sent = None if sent is None or sent == "" else float(sent)
    except (TypeError, ValueError):
        raise ValueError(f"'Continuous label_result' {sent!r} is not a number") from None
    spk = obj.get("speaker_id")
    content = obj.get("content")
    extra = {k: obj[k] for k in _EXTRA if obj.get(k) not in (None, "")} or None
    return _Ann(result, raters, None if spk in (None, "") else _speaker_id(spk),
                None if content is None else str(content), sent, extra)


def _find_modality_dirs(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base in (root / "data", root):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            m = child.name.lower()
            if child.is_dir() and m in MODALITIES and m not in found:
                found[m] = child
        if found:
            break
    return found


def _shards(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file() and p.name.lower().endswith(_SHARD_SUFFIXES)
                  and not is_hidden_path(p.relative_to(d).as_posix()))


class _Collector:
    """Per modality: utterance id → annotation, and → media reference."""

    def __init__(self):
        self.ann: dict[str, dict[str, _Ann]] = {m: {} for m in MODALITIES}
        self.media: dict[str, dict[str, str]] = {m: {} for m in MODALITIES}
        self.keys: dict[str, tuple[str, str, str, int]] = {}  # id -> group, dialogue, speaker, turn
        self.shard_count = {m: 0 for m in MODALITIES}
        self.loose_ignored = {m: 0 for m in MODALITIES}

    def take(self, modality: str, name: str, where: str, read, problems: _Problems,
             media_ref=None) -> None:
        m = KEY.search(name.replace("\\", "/"))
        if not m:
            if _LOOKS_LIKE_KEY.search(name):
                problems.add(where, "path does not follow G#####/G#####_DD/G#####_DD_SS/G#####_DD_SS_UUU.ext")
            return
        g, d, s, u, ext = m["g"].upper(), m["d"], m["s"], m["u"], m["ext"].lower()
        uid = f"{g}_{d}_{s}_{u}"
        self.keys.setdefault(uid, (g, f"{g}_{d}", _speaker_id(s), int(u)))
        if ext in ("json", "jsonl"):
            if uid in self.ann[modality]:
                problems.add(where, f"second {modality} annotation for {uid} (the first is kept)")
                return
            try:
                self.ann[modality][uid] = _annotation(_parse_json(read(), where), uid)
            except ValueError as e:
                problems.add(where, str(e))
        elif ext in _MEDIA_EXT[modality]:
            if uid in self.media[modality]:
                problems.add(where, f"second {ext} file for {uid} (the first is kept)")
                return
            self.media[modality][uid] = media_ref() if media_ref else where


@register
class EmotionTalk(Corpus):
    name = "emotiontalk"
    title = "EmotionTalk"
    description = ("Chinese dyadic dialogues by 19 actors, 19250 utterances, 7 emotions per modality "
                   "(audio, text, video, multimodal) + continuous sentiment; official group split.")
    modalities = ("audio", "text", "video")
    language = "zh"
    #: actors recur across groups, so the official split is not speaker-independent
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 19250, "split": {"train": 15413, "dev": 1908, "test": 1929},
                "label": _TOTALS}
    expected_views = {"four": {"total": sum(_TOTALS[c] for c in FOUR),
                               "y": {c: _TOTALS[c] for c in FOUR}}}
    #: per split, multimodal labels (README table); checked by :meth:`check`
    expected_by_split = _README
    expected_speakers = 19
    expected_dialogues = 744
    # 19250 utterances and 19 speakers are confirmed (paper, dataset card); the split and
    # label tables and the dialogue count are not
    unverified = frozenset({"split", "label", "by_split", "views", "dialogues"})
    layout_hint = ("data/audio/*.tar, data/Text/*.tar, data/Video/*.tar, data/Multimodal/*.tar "
                   "(or the same folders extracted), files keyed "
                   "G00002/G00002_01/G00002_01_07/G00002_01_07_001.{wav,mp4,json}")
    licence = "CC BY-NC-SA 4.0"
    canonical = {c: c for c in CLASSES}
    labelset = LabelSet(CLASSES, _views(), default_view="all")
    #: rows carry dialogue / turn (utterance number, from 1) / speaker: context heads can run on it
    conversational = True

    def __init__(self, aggregation: str = "release"):
        if aggregation not in AGGREGATIONS:
            raise CorpusError(f"EmotionTalk aggregation must be one of {', '.join(AGGREGATIONS)}, "
                              f"not '{aggregation}'")
        self.aggregation = aggregation
        self._notes: list[str] = []

    # -- hooks the spine calls -------------------------------------------------------

    def text_for_features(self, text):
        """What text encoders see: the transcript without its markup tags."""
        return strip_markup(text)

    def select_target(self, df: pd.DataFrame, view_name: str | None = None) -> pd.DataFrame:
        """Copy the view's target (a modality's label, or the sentiment sign) into ``label``."""
        view = self.labelset.view(view_name)
        return select_target(df, getattr(view, "source", "label"))

    # -- reading ---------------------------------------------------------------------

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        dirs = _find_modality_dirs(root)
        if "multimodal" not in dirs:
            have = ", ".join(sorted(dirs)) or "none of audio/Text/Video/Multimodal"
            raise CorpusError(f"{root}: not an EmotionTalk root: no data/Multimodal/ folder (found "
                              f"{have}); the multimodal annotations carry the label. Expected "
                              f"{self.layout_hint}")
        col = _Collector()
        problems = _Problems()
        self._notes = []
        for mod, d in dirs.items():
            shards = _shards(d)
            if shards:
                col.shard_count[mod] = len(shards)
                for shard in shards:
                    self._read_shard(mod, shard, col, problems, on_error, issues)
                loose = sum(1 for p in d.rglob("*") if p.is_file() and KEY.search(p.as_posix())
                            and not is_hidden_path(p.relative_to(d).as_posix()))
                if loose:
                    self._notes.append(f"{d}: {loose} loose file(s) beside the shards were ignored "
                                       "(the shards were read)")
            else:
                self._read_tree(mod, d, col, problems)
        problems.flush(on_error, issues, "annotation files")
        missing_mods = [m for m in MODALITIES if m not in dirs]
        if missing_mods:
            self._notes.append(f"modalities absent from this copy: {', '.join(missing_mods)} "
                               "(their label columns are empty)")
        df = self._assemble(col, dirs, problems)
        problems.flush(on_error, issues, "utterances")
        if df.empty:
            raise CorpusError(f"{root}: no EmotionTalk utterances found. Expected {self.layout_hint}")
        # utterance numbers order a dialogue; whether the release has holes is not known, so
        # holes are reported (gap_caveat), duplicates refused
        check_turns(df, str(root), issues, first=1, gaps=False)
        return df

    def _read_shard(self, mod, shard: Path, col: _Collector, problems, on_error, issues):
        report = tario.ShardReport(str(shard))
        prefix = tario.member_uri(shard, "")  # resolved once; + quoted member name
        index: dict[str, tuple[int, int]] = {}
        want = (lambda n: n.lower().endswith((".json", ".jsonl")) and not is_hidden_path(n))
        for m in tario.iter_members(shard, want=want, on_error=on_error, report=report):
            if is_hidden_path(m.name):  # ._* members that a macOS tar adds beside each file
                continue
            where = f"{shard}#{m.name}"
            col.take(mod, m.name, where, lambda m=m: m.data, problems,
                     media_ref=lambda m=m: prefix + tario.quote(m.name))
            if report.plain and not m.name.lower().endswith((".json", ".jsonl")):
                index[m.name] = (m.offset_data, m.size)
        for member, why in report.refused:
            issues.add(f"{shard}#{member}", f"member refused: {why}")
        if report.truncated:
            issues.add(shard, f"shard truncated or unreadable, kept the {report.members} member(s) "
                              f"before the damage: {report.truncated}")
        if report.plain and index and not report.truncated:
            tario.remember(shard, index)

    def _read_tree(self, mod, d: Path, col: _Collector, problems):
        for dirpath, dirs, files in os.walk(d):
            dirs[:] = [x for x in dirs if not is_hidden(x)]
            for fn in files:
                if is_hidden(fn):
                    continue
                p = Path(dirpath) / fn
                rel = p.relative_to(d).as_posix()
                col.take(mod, rel, str(p), p.read_bytes, problems, media_ref=lambda p=p: str(p.resolve()))

    def _assemble(self, col: _Collector, dirs, problems) -> pd.DataFrame:
        present = [m for m in MODALITIES if m in dirs]
        rows = []
        no_video = 0
        for uid in sorted(col.keys):
            g, dia, spk, turn = col.keys[uid]
            anns = {m: col.ann[m].get(uid) for m in present}
            mm = anns.get("multimodal")
            if mm is None or mm.result is None:
                problems.add(uid, "no Multimodal annotation (emotion_result), which carries the label")
                continue
            bad = False
            for m in present:
                a = anns[m]
                if a is None:
                    problems.add(uid, f"no {m} annotation JSON (label_{m} left empty)")
                elif a.speaker is not None and a.speaker != spk:
                    problems.add(uid, f"{m} JSON says speaker_id {a.speaker}, its path says {spk}")
                    bad = True
            if bad:
                continue
            audio = col.media["audio"].get(uid)
            if "audio" in present and audio is None:
                problems.add(uid, "no .wav in the audio data (audio left empty)")
            video = col.media["video"].get(uid) or col.media["multimodal"].get(uid)
            no_video += video is None
            text = next((anns[m].content for m in ("text", "audio", "multimodal")
                         if anns.get(m) is not None and anns[m].content is not None), None)
            sent = mm.sentiment
            if sent is None:
                cont = [r[2] for r in mm.raters.values()]
                sent = float(np.mean(cont)) if cont and None not in cont else None
            votes = {m: {"result": a.result,
                         "raters": {k: {"emotion": e, "confidence": c, "continuous": v}
                                    for k, (e, c, v) in a.raters.items()}}
                     for m, a in anns.items() if a is not None}
            extra = anns["audio"].extra if anns.get("audio") is not None else None
            row = {"id": uid, "speaker": spk, "session": g, "dialogue": dia, "turn": turn,
                   "meta": None if extra is None else json.dumps(extra, ensure_ascii=False),
                   "split": SPLIT_OF_GROUP.get(g, "train"), "audio": audio, "video": video,
                   "text": text, "language": "zh", "sentiment": sent,
                   "votes": json.dumps(votes, ensure_ascii=False, separators=(",", ":"))}
            for m in MODALITIES:
                a = anns.get(m)
                row[f"label_{m}"] = a.result if a is not None else None
            row.update(caption_columns(extra))
            rows.append(row)
        if no_video and rows:
            self._notes.append(f"{no_video} of {len(rows)} utterances have no video file in this copy "
                               "(video column empty; video labels are still read from the JSON)")
        if not rows:
            return pd.DataFrame()
        for d in (col.ann, col.media):  # the rows hold all that is needed now
            for v in d.values():
                v.clear()
        df = pd.DataFrame({k: [r.get(k) for r in rows] for k in rows[0]})
        del rows
        if self.aggregation != "release":
            for m in present:
                df[f"label_{m}"] = _reaggregate(df["votes"], m, self.aggregation)
            self._notes.append(f"labels re-aggregated from the raters' votes ({self.aggregation}), "
                               "not the released emotion_result: not comparable with published numbers")
        df["label"] = df["label_multimodal"]
        return normalize(df, self.name)

    # -- checks and reports ----------------------------------------------------------

    def caveats(self, df: pd.DataFrame) -> list[str]:
        notes = list(self._notes) + gap_caveat(df, first=1)
        if len(df) and df["audio"].astype(str).str.startswith(tario.SCHEME).any():
            notes.append("audio is read from inside the tar shards (tar:// member URIs)")
        if len(df) and df["split"].notna().any():
            tr = set(df.loc[df["split"] != "test", "speaker"].dropna())
            te = set(df.loc[df["split"] == "test", "speaker"].dropna())
            if tr & te:
                notes.append(f"the official group split is not speaker-independent: {len(tr & te)} of "
                             f"{len(te)} test speakers also speak in train/dev")
        return notes

    def mismatches(self, df: pd.DataFrame) -> list[tuple[str, str]]:
        out = []
        exp = dict(self.expected)
        views = dict(self.expected_views)
        if self.aggregation != "release":  # the published counts are of the released labels
            exp.pop("label", None)
            views = {}
        if len(df) != exp["total"]:
            out.append(("total", f"{len(df)} utterances, a complete copy has {exp['total']}"))
        for col in ("split", "label"):
            if col not in exp:
                continue
            got = df[col].astype(object).value_counts().to_dict()
            for k, v in exp[col].items():
                if got.get(k, 0) != v:
                    out.append((f"{col}/{k}", f"{col} '{k}': {got.get(k, 0)}, expected {v}"))
        if self.aggregation == "release":
            for split, want in self.expected_by_split.items():
                got = df.loc[df["split"] == split, "label"].astype(object).value_counts().to_dict()
                for k, v in want.items():
                    if got.get(k, 0) != v:
                        out.append((f"by_split/{split}/{k}",
                                    f"split '{split}' label '{k}': {got.get(k, 0)}, expected {v}"))
        for view, want in views.items():
            v = self.labelset.view(view).apply(df)
            if len(v) != want["total"]:
                out.append((f"views/{view}/total",
                            f"view '{view}': {len(v)} utterances, a complete copy has {want['total']}"))
        n_spk = df["speaker"].nunique()
        if n_spk != self.expected_speakers:
            out.append(("speakers", f"{n_spk} speakers, the release has {self.expected_speakers}"))
        n_dia = df["dialogue"].nunique()
        if n_dia != self.expected_dialogues:
            out.append(("dialogues", f"{n_dia} dialogues, the release has {self.expected_dialogues}"))
        return out

    def agreement_report(self, df: pd.DataFrame, max_listed: int | None = None) -> dict:
        """Re-aggregate every modality's votes and compare with the released ``emotion_result``.

        Per modality: ``items`` with votes; ``fleiss_kappa`` over the items with the usual
        number of raters (``kappa_items``, others excluded) and the paper's value; for each
        aggregation — ``weighted`` (paper §3.2, N_k = annotators who chose k),
        ``weighted_all`` (N_k read as all annotators), ``majority`` — the ``agreement``
        rate with the release, the number of ``disagreements`` and their list
        (id, release, reaggregated), at most ``max_listed`` of them when given.
        """
        report: dict = {"categories": list(CLASSES), "modalities": {}}
        parsed = [json.loads(v) if isinstance(v, str) else {} for v in df["votes"].astype(object)]
        ids = df["id"].astype(str).tolist()
        for m in MODALITIES:
            rows = [(i, p[m]) for i, p in zip(ids, parsed) if m in p and p[m].get("raters")]
            if not rows:
                continue
            codes, conf = _vote_arrays([r for _, r in rows])
            release = [r.get("result") for _, r in rows]
            n_votes = (codes >= 0).sum(axis=1)
            n_raters = int(np.bincount(n_votes).argmax())
            full = n_votes == n_raters
            kappa = agr.fleiss_kappa(agr.ratings_matrix(codes[full], len(CLASSES))) if full.sum() else None
            entry = {"items": len(rows), "raters": n_raters, "kappa_items": int(full.sum()),
                     "fleiss_kappa": kappa, "paper_kappa": PAPER_KAPPA[m]}
            for name, winners in (
                    ("weighted", agr.aggregate_weighted(codes, conf, len(CLASSES), "chosen")),
                    ("weighted_all", agr.aggregate_weighted(codes, conf, len(CLASSES), "all")),
                    ("majority", agr.aggregate_majority(codes, conf, len(CLASSES)))):
                got = [CLASSES[w] if w >= 0 else None for w in winners]
                dis = [{"id": rid, "release": rel, "reaggregated": g}
                       for (rid, _), rel, g in zip(rows, release, got) if rel is not None and g != rel]
                n_rel = sum(r is not None for r in release)
                entry[name] = {"agreement": (n_rel - len(dis)) / n_rel if n_rel else None,
                               "disagreements": len(dis),
                               "list": dis if max_listed is None else dis[:max_listed]}
            report["modalities"][m] = entry
        return report


def _vote_arrays(entries: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """votes[modality] dicts → (codes, confidences) arrays, raters in name order."""
    index = {c: i for i, c in enumerate(CLASSES)}
    width = max(len(e["raters"]) for e in entries)
    codes = np.full((len(entries), width), -1, dtype=np.int64)
    conf = np.zeros((len(entries), width), dtype=np.float64)
    for i, e in enumerate(entries):
        for j, r in enumerate(sorted(e["raters"])):
            v = e["raters"][r]
            codes[i, j] = index[v["emotion"]]
            conf[i, j] = v["confidence"]
    return codes, conf


def _reaggregate(votes: pd.Series, modality: str, how: str) -> list[str | None]:
    parsed = [json.loads(v).get(modality) for v in votes]
    have = [i for i, p in enumerate(parsed) if p and p.get("raters")]
    out: list[str | None] = [None] * len(parsed)
    if not have:
        return out
    codes, conf = _vote_arrays([parsed[i] for i in have])
    if how == "weighted":
        w = agr.aggregate_weighted(codes, conf, len(CLASSES), "chosen")
    else:
        w = agr.aggregate_majority(codes, conf, len(CLASSES))
    for i, k in zip(have, w):
        out[i] = CLASSES[k] if k >= 0 else None
    return out
