"""DailyDialog (Li et al., IJCNLP 2017), read from ``ijcnlp_dailydialog/`` as distributed.

The release holds the whole corpus (``dialogues_text.txt`` …) and one zip per official split;
the split folders are what this adapter reads, extracted or still zipped::

    ijcnlp_dailydialog/train/dialogues_train.txt             one dialogue per line,
    ijcnlp_dailydialog/train/dialogues_emotion_train.txt     utterances ended by "__eou__"
    ijcnlp_dailydialog/train/dialogues_act_train.txt         one code per utterance
    ijcnlp_dailydialog/validation/dialogues_validation.txt   (…_emotion_validation, …_act_validation)
    ijcnlp_dailydialog/test/dialogues_test.txt               (…)
    ijcnlp_dailydialog/{train,validation,test}.zip           the same files, zipped

Emotion codes: 0 no emotion, 1 anger, 2 disgust, 3 fear, 4 happiness, 5 sadness, 6 surprise;
act codes: 1 inform, 2 question, 3 directive, 4 commissive. Line *k* of the three files of a
split describe the same dialogue; a line whose utterance, emotion and act counts differ is a
malformed line (named by file and line).

Rows: one per utterance; id ``train_00001_03`` (split, dialogue line, turn); ``dialogue``
``train_00001``; ``turn``; ``speaker`` = ``<dialogue>_A`` / ``_B`` (the two speakers
alternate; the release has no names); ``text`` as released (tokenised, spaces before
punctuation); ``label`` the emotion name (``no_emotion`` for 0); ``meta`` = ``{"act": …}``.
Protocol: the official train / validation (``dev``) / test split; dialogues are disjoint,
speakers are anonymous, so speaker independence cannot be checked.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, line_problem, not_root, shared_view
from .base import SKIP_HINT, Corpus, is_hidden_path, register

EMOTIONS = {0: "no_emotion", 1: "anger", 2: "disgust", 3: "fear", 4: "happiness", 5: "sadness",
            6: "surprise"}
ACTS = {1: "inform", 2: "question", 3: "directive", 4: "commissive"}
SPLITS = {"train": "train", "validation": "dev", "test": "test"}
EOU = "__eou__"
CANONICAL = {"no_emotion": "neutral", "anger": "angry", "disgust": "disgust", "fear": "fear",
             "happiness": "happy", "sadness": "sad", "surprise": "surprise"}
CLASSES = tuple(EMOTIONS.values())
#: the largest member read from a split zip (the release's largest file is ~6 MB)
MAX_MEMBER = 64 * 2**20


@register
class DailyDialog(Corpus):
    name = "dailydialog"
    title = "DailyDialog"
    description = ("13 118 English daily-life dialogues, an emotion and a dialogue act per "
                   "utterance, official train/validation/test (text).")
    modalities = ("text",)
    language = "en"
    licence = "CC BY-NC-SA 4.0"
    canonical = CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    #: utterances per split: the DeepPavlov/daily_dialog dataset card (87 170 / 8069 / 7740); dialogues
    #: 11 118 / 1000 / 1000: the li2017dailydialog/daily_dialog card
    expected = {"total": 102979, "split": {"train": 87170, "dev": 8069, "test": 7740}}
    layout_hint = ("ijcnlp_dailydialog/{train,validation,test}/dialogues_<split>.txt with "
                   "dialogues_emotion_<split>.txt and dialogues_act_<split>.txt (or the "
                   "train.zip / validation.zip / test.zip of the release)")
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "no emotion + the 6 DailyDialog emotions"),
        "emotions": LabelView.identity("emotions", CLASSES[1:], "the 6 emotions (no_emotion dropped)",
                                       drop=("no_emotion",)),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base = self._base(root)
        rows: list[dict] = []
        for folder, split in SPLITS.items():
            files = self._files(base, folder, issues)
            if files is None:
                continue  # a partial copy: check() reports the missing split
            rows += self._split(files, split, issues)
        if not rows:
            raise not_root(root, self.title, "no utterances in any split", self.layout_hint)
        return normalize(rows, self.name)

    def _base(self, root: Path) -> Path:
        for base in (root, find_dir(root, "ijcnlp_dailydialog", "EMNLP_dataset")):
            if base is not None and any((base / f).is_dir() or (base / f"{f}.zip").is_file() for f in SPLITS):
                return base
        raise not_root(root, self.title, "no train/, validation/, test/ folders or zips", self.layout_hint)

    @staticmethod
    def _files(base: Path, folder: str, issues) -> dict[str, tuple[str, str]] | None:
        """kind -> (where, text) for the split's three files, from the folder or the zip."""
        names = {"text": f"dialogues_{folder}.txt", "emotion": f"dialogues_emotion_{folder}.txt",
                 "act": f"dialogues_act_{folder}.txt"}
        d = base / folder
        if d.is_dir() and (d / names["text"]).is_file():
            out = {}
            for k, n in names.items():
                if not (d / n).is_file():
                    raise CorpusError(f"{d / n}: missing; a split needs {', '.join(names.values())}")
                out[k] = (str(d / n), (d / n).read_bytes().decode("utf-8", errors="replace"))
            return out
        z = base / f"{folder}.zip"
        if not z.is_file():
            return None
        return _from_zip(z, folder, names, issues)

    def _split(self, files, split: str, issues) -> list[dict]:
        (tp, text), (ep, emo), (ap, act) = files["text"], files["emotion"], files["act"]
        t_lines, e_lines, a_lines = (x.splitlines() for x in (text, emo, act))
        if not (len(t_lines) == len(e_lines) == len(a_lines)):
            raise CorpusError(f"{ep}: {len(e_lines)} lines, {tp} has {len(t_lines)} and {ap} "
                              f"{len(a_lines)}; line k of each file must describe the same dialogue")
        rows = []
        for k, (t, e, a) in enumerate(zip(t_lines, e_lines, a_lines), 1):
            if not t.strip():
                continue
            utts = [u.strip() for u in t.split(EOU)]
            utts = utts[:-1] if utts and not utts[-1] else utts
            try:
                emos = [int(x) for x in e.split()]
            except ValueError:
                line_problem(issues, ep, k, f"emotion codes must be integers: {e.strip()!r:.60}")
                continue
            try:
                acts = [int(x) for x in a.split()]
            except ValueError:
                line_problem(issues, ap, k, f"act codes must be integers: {a.strip()!r:.60}")
                continue
            if not (len(utts) == len(emos) == len(acts)):
                line_problem(issues, ep, k, f"{len(emos)} emotion codes and {len(acts)} act codes for "
                                            f"{len(utts)} utterances in {Path(tp).name}")
                continue
            bad_e, bad_a = [c for c in emos if c not in EMOTIONS], [c for c in acts if c not in ACTS]
            if bad_e or bad_a:
                line_problem(issues, ep if bad_e else ap, k, f"code {(bad_e or bad_a)[0]} is not a "
                             f"DailyDialog {'emotion (0-6)' if bad_e else 'act (1-4)'}")
                continue
            dia = f"{split}_{k:05d}"
            for i, (u, c, x) in enumerate(zip(utts, emos, acts)):
                rows.append({"id": f"{dia}_{i:02d}", "dialogue": dia, "turn": i, "split": split,
                             "speaker": f"{dia}_{'AB'[i % 2]}", "text": u, "language": "en",
                             "label": EMOTIONS[c], "meta": json.dumps({"act": ACTS[x]})})
        return rows

    def caveats(self, df: pd.DataFrame) -> list[str]:
        return ["speakers are anonymous (A/B within a dialogue): speaker independence of the "
                "official split cannot be checked; 'no_emotion' is most utterances"]


def _unsafe(info: zipfile.ZipInfo) -> str | None:
    """Why a member is refused: what a benign release zip never holds (as tario does for tar)."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a path that escapes the archive (..)"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return "a symbolic link"
    if info.file_size > MAX_MEMBER:
        return f"{info.file_size} bytes once decompressed (the release's files are a few MB)"
    return None


def _from_zip(z: Path, folder: str, names: dict[str, str], issues) -> dict[str, tuple[str, str]]:
    """Read the three members straight from the zip. Nothing is extracted, so no name can write
    anywhere; members a benign release never holds are refused all the same, so that a
    doctored zip cannot stand in for the release's files."""
    try:
        with zipfile.ZipFile(z) as zf:
            members = {}
            for info in zf.infolist():
                why = _unsafe(info)
                if why:
                    issues.problem(f"{z}#{info.filename}", f"refused: {why}",
                                   f"{z}#{info.filename}: refused: {why}{SKIP_HINT}")
                    continue
                base = Path(info.filename).name
                if not info.is_dir() and not is_hidden_path(info.filename):
                    members.setdefault(base, info.filename)
            out = {}
            for k, n in names.items():
                if n not in members:
                    raise CorpusError(f"{z}: no member {n}; a split needs {', '.join(names.values())}")
                with zf.open(members[n]) as f:
                    out[k] = (f"{z}#{members[n]}", io.TextIOWrapper(f, "utf-8", errors="replace").read())
            return out
    except zipfile.BadZipFile as e:
        raise CorpusError(f"{z}: not a readable zip ({e}); re-download {folder}.zip") from None
