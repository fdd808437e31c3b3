"""ShEMO (Sharif Emotional Speech Database, Persian), read from the GitHub release as extracted.

``female/F01A01.wav``, ``male/M01N01.wav`` = sex, speaker number, emotion letter
(A anger, F fear, H happiness, N neutral, S sadness, W surprise), utterance
number. ``shemo.json`` (beside the two folders, where a copy has it) maps each
stem to ``speaker_id``, ``gender``, ``emotion``, ``transcript`` (and ``ipa``): its
transcript becomes ``text``; its emotion must agree with the file name.

id = file stem; speaker = ``F01``/``M01``.

Default protocol: 5 speaker-disjoint folds: a speaker numbered n (within its sex)
is tested in fold ((n - 1) mod 5) + 1, so each fold holds about a fifth of the
women and of the men. ``session`` holds ``fold<k>`` and the protocol leaves one
session out. EmoBox's ShEMO split is a random 25 % of utterances (its rule for
corpora whose emotions are unbalanced across speakers), not speaker-independent.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from ._native import fold_name
from .base import SKIP_HINT, register

NAME = re.compile(r"^([FM])(\d\d)([AFHNSW])(\d\d)\.wav$")
LETTERS = {"A": "angry", "F": "fear", "H": "happy", "N": "neutral", "S": "sad", "W": "surprise"}
JSON_EMOTIONS = {"anger": "angry", "fear": "fear", "happiness": "happy", "neutral": "neutral",
                 "sadness": "sad", "surprise": "surprise"}
CLASSES = ("angry", "fear", "happy", "neutral", "sad", "surprise")
SEX_DIR = {"female": "F", "male": "M"}


@register
class ShEMO(FileNamedCorpus):
    name = "shemo"
    title = "ShEMO"
    description = "Sharif Emotional Speech Database: 87 speakers, 6 emotions, Persian (audio, text)."
    modalities = ("audio", "text")
    language = "fa"
    licence = "free of charge for academic purposes (ShEMO paper and repository)"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "logo", "group": "session"}
    expected = {"total": 3000, "label": {"angry": 1059, "neutral": 1028, "sad": 449, "surprise": 225,
                                          "happy": 201, "fear": 38}}
    unverified = frozenset({"label"})  # 3000 utterances, 87 speakers: the paper and its repository
    layout_hint = "female/F01A01.wav … and male/M01N01.wav … (sex, speaker, emotion letter AFHNSW, number), optional shemo.json"
    bad_what = "not a valid ShEMO file name: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 6 ShEMO emotions"),
        "five": LabelView.identity("five", tuple(c for c in CLASSES if c != "fear"),
                                   "fear dropped (38 utterances)", drop=("fear",)),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def base(self, root: Path) -> Path:
        for b in (root, root / "ShEMO", root / "shemo"):
            if (b / "female").is_dir() or (b / "male").is_dir():
                return b
        raise CorpusError(f"{root}: not a ShEMO root: no female/ or male/ folder (here or in ShEMO/). "
                          f"Expected {self.layout_hint}")

    def parse(self, path: Path, base: Path) -> dict | None:
        sex_dir = SEX_DIR.get(path.parent.name.lower())
        if sex_dir is None:
            return None
        m = NAME.match(path.name)
        if not m:
            raise ValueError("not SNNENN.wav (sex F/M, speaker, emotion letter AFHNSW, number; e.g. F01A01.wav)")
        sex, num, letter, _ = m.groups()
        if sex != sex_dir:
            raise ValueError(f"a {'female' if sex == 'F' else 'male'} speaker's file in {path.parent.name}/")
        return {"id": path.stem, "speaker": f"{sex}{num}", "session": fold_name(num, 5),
                "audio": str(path), "language": "fa", "label": LETTERS[letter]}

    def extra(self, base: Path, rows: list[dict], issues) -> None:
        path = base / "shemo.json"
        if not path.is_file():
            return
        try:
            meta = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            line = getattr(e, "lineno", "?")
            raise CorpusError(f"{path}:{line}: not valid JSON ({e}); expected {{stem: {{speaker_id, gender, "
                              "emotion, transcript}}}}") from None
        if not isinstance(meta, dict):
            raise CorpusError(f"{path}: expected a JSON object keyed by file stem")
        for r in rows:
            m = meta.get(r["id"])
            if not isinstance(m, dict):
                continue
            emo = JSON_EMOTIONS.get(str(m.get("emotion", "")).strip().lower())
            if emo is not None and emo != r["label"]:
                issues.problem(f"{path}: {r['id']}", f"emotion '{m.get('emotion')}' disagrees with the file name",
                               f"{path}: {r['id']}: emotion '{m.get('emotion')}' disagrees with the file "
                               f"name ({r['label']}){SKIP_HINT}")
            r["text"] = m.get("transcript")
