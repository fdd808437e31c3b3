"""ESD (Emotional Speech Dataset, NUS HLT), read from the release as extracted.

``<spk>/<Emotion>/<spk>_<nnnnnn>.wav`` for speakers 0001–0010 (Mandarin) and
0011–0020 (English), emotions Angry Happy Neutral Sad Surprise, 350 utterances per
emotion (utterance numbers 1–350 Neutral, 351–700 Angry, 701–1050 Happy,
1051–1400 Sad, 1401–1750 Surprise). ``<spk>/<spk>.txt`` has a line per utterance,
``0011_000001<TAB>text<TAB>emotion`` (Chinese speakers' emotion names are Chinese:
中立 快乐 伤心 生气 惊喜). The root may be ``Emotional Speech Dataset (ESD)/`` or its
parent.

The official split (per speaker and emotion: 20 evaluation, 30 test, 300 train)
comes from the release's ``train/``, ``evaluation/``, ``test/`` sub-folders when a
copy has them (``0011/Angry/train/0011_000351.wav``); ``split`` is train / dev /
test. A flat copy (the emotion folders hold the files directly, as EmoBox reads
it) has no split: ``split`` is empty and a caveat says so. The official split is
text-disjoint, not speaker-independent.

Default protocol: EmoBox's five speaker folds, read from its published
``data/esd/fold_k/esd_test_fold_k.jsonl`` files (4 speakers each, mixing the two
languages as EmoBox's shuffle left them).
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ._filenamed import FileNamedCorpus
from .base import SKIP_HINT, register

SPEAKERS = [f"{i:04d}" for i in range(1, 21)]
EMOTIONS = {"Angry": "angry", "Happy": "happy", "Neutral": "neutral", "Sad": "sad", "Surprise": "surprise"}
ZH_EMOTIONS = {"中立": "Neutral", "快乐": "Happy", "伤心": "Sad", "生气": "Angry", "惊喜": "Surprise"}
CLASSES = ("angry", "happy", "neutral", "sad", "surprise")
SPLITS = {"train": "train", "evaluation": "dev", "test": "test"}
NAME = re.compile(r"^(\d{4})_(\d{6})\.wav$")
#: EmoBox data/esd/fold_{1..5}/esd_test_fold_k.jsonl: the speakers of each test fold
EMOBOX_FOLDS = [["0005", "0011", "0016", "0018"], ["0012", "0014", "0015", "0019"],
                ["0003", "0004", "0006", "0009"], ["0007", "0008", "0013", "0020"],
                ["0001", "0002", "0010", "0017"]]


def emotion_of_number(n: int) -> str:
    """The release numbers utterances in blocks of 350 per emotion, in this order."""
    return ("Neutral", "Angry", "Happy", "Sad", "Surprise")[(n - 1) // 350]


@register
class ESD(FileNamedCorpus):
    name = "esd"
    title = "ESD"
    description = "Emotional Speech Dataset: 10 Mandarin + 10 English speakers, 5 emotions, parallel texts (audio, text)."
    modalities = ("audio", "text")
    language = "zh/en"
    licence = "research use under the ESD licence agreement (NUS HLT)"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "folds", "group": "speaker", "folds": EMOBOX_FOLDS}
    expected = {"total": 35000, "speaker": {s: 1750 for s in SPEAKERS}, "label": {c: 7000 for c in CLASSES}}
    unverified = frozenset({"speaker", "label"})
    layout_hint = ("0001/ … 0020/, each with Angry/ Happy/ Neutral/ Sad/ Surprise/ holding 0001_000351.wav … "
                   "(optionally in train/ evaluation/ test/ sub-folders) and the transcript 0001/0001.txt")
    bad_what = "not a valid ESD file: "
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 5 ESD emotions"),
        "four": LabelView.four(CLASSES),
    }, default_view="all")

    def base(self, root: Path) -> Path:
        for b in (root, root / "Emotional Speech Dataset (ESD)", root / "ESD"):
            if b.is_dir() and any((b / s).is_dir() for s in SPEAKERS):
                return b
        raise CorpusError(f"{root}: not an ESD root: no speaker folders 0001 … 0020 (here or in "
                          f"'Emotional Speech Dataset (ESD)/'). Expected {self.layout_hint}")

    def parse(self, path: Path, base: Path) -> dict | None:
        rel = path.relative_to(base).parts
        if rel[0] not in SPEAKERS:
            return None
        if len(rel) not in (3, 4) or rel[1] not in EMOTIONS or (len(rel) == 4 and rel[2] not in SPLITS):
            raise ValueError("not <spk>/<Emotion>/[train|evaluation|test/]<spk>_<nnnnnn>.wav")
        m = NAME.match(path.name)
        if not m or m.group(1) != rel[0]:
            raise ValueError(f"file name is not {rel[0]}_<6 digits>.wav")
        n = int(m.group(2))
        if not 1 <= n <= 1750 or emotion_of_number(n) != rel[1]:
            raise ValueError(f"utterance {n} is not a {rel[1]} number (1–350 Neutral, 351–700 Angry, "
                             "701–1050 Happy, 1051–1400 Sad, 1401–1750 Surprise)")
        return {"id": path.stem, "speaker": rel[0], "session": rel[0], "dialogue": f"{(n - 1) % 350 + 1:03d}",
                "split": SPLITS[rel[2]] if len(rel) == 4 else None, "audio": str(path),
                "language": "zh" if int(rel[0]) <= 10 else "en", "label": EMOTIONS[rel[1]]}

    def extra(self, base: Path, rows: list[dict], issues) -> None:
        texts: dict[str, str] = {}
        for spk in sorted({r["speaker"] for r in rows}):
            texts.update(self._transcript(base / spk / f"{spk}.txt", issues))
        for r in rows:
            r["text"] = texts.get(r["id"])

    @staticmethod
    def _transcript(path: Path, issues) -> dict[str, str]:
        if not path.is_file():
            return {}
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:  # some copies of the Mandarin lists are GB18030
            text = raw.decode("gb18030", errors="replace")
        out = {}
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            parts = line.rstrip("\r\n").split("\t")
            emo = ZH_EMOTIONS.get(parts[-1].strip(), parts[-1].strip()) if len(parts) == 3 else None
            if len(parts) != 3 or not NAME.match(parts[0].strip() + ".wav") or emo not in EMOTIONS:
                issues.problem(f"{path}:{i}", "malformed line",
                               f"{path}:{i}: malformed line {line[:80]!r}: expected "
                               f"'<spk>_<nnnnnn><TAB>text<TAB>emotion'{SKIP_HINT}")
                continue
            out[parts[0].strip()] = parts[1].strip()
        return out

    def caveats(self, df):
        out = []
        if df["split"].isna().all():
            out.append("this copy has no train/ evaluation/ test/ sub-folders: the official split is "
                       "unavailable (the default protocol does not need it)")
        if df["text"].isna().any():
            out.append(f"{int(df['text'].isna().sum())} utterance(s) have no transcript line in <spk>/<spk>.txt")
        return out
