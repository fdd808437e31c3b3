"""M3ED (Multi-modal Multi-scene Multi-label Emotional Dialogue, Chinese TV series), native layout.

- ``annotation.json``: ``{series: {dialogue: {"SpeakerInfo": {A: {"Name": …}, …},
  "Dialog": {utterance id: {"Speaker": "A", "Text": …, "StartTime": …, "EndTime": …,
  "EmoAnnotation": {"final_main_emo": "Happy", …}}, …}}}}`` (the keys EmoBox's
  M3ED recipe reads; Text and the times are used where present).
- ``splitInfo/movie_list_{train,val,test}.txt``: one series per line (the official
  split is by series: 38 / 7 / 11).
- ``modality_speech/<Speaker>_<utterance id>.wav`` (as EmoBox reads it), or
  ``<utterance id>.wav``.

Rows keep the dialogue structure: dialogue = ``<series>/<dialogue>``, turn = the
utterance's order in its ``Dialog``, speaker = ``<series>_<character name>`` (a
character belongs to one series, so the series split is speaker-disjoint; EmoBox
builds speaker ids the same way). split = train / dev / test.

Default protocol: the official series split (EmoBox uses the same split), claimed
speaker-independent and checked as such by the fold builder.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView, canonical
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, is_hidden, register

CLASSES = ("happy", "surprise", "sad", "disgust", "angry", "fear", "neutral")
SPLIT_FILES = {"train": "movie_list_train.txt", "dev": "movie_list_val.txt", "test": "movie_list_test.txt"}
#: the official lists (AIM3-RUC/RUCM3ED splitInfo/), to tell a user whose copy's lists differ
OFFICIAL = {
    "train": set("""zhengfu zuimeideshiguang xiaobieli zhiwomennuannuandexiaoshiguang xueselangman ershibuhuo
        xiaoshede yujianwanglichuan zhengyangmenxia lamazhengzhuan lizhipaishenghuo haoxiansheng
        woshiyuhuanshui xiaozhangfu nishiwodechengchibaolei sanshieryi waixiangren xinlianaishidai anjia
        nihaojiushiguang fendou heyishengxiaomo yipuerzhu qinaidereaide jimaofeishangtian fumuaiqing
        huijiadeyouhuo banshimitangbanshishang qihun doutinghao womendexinshidai dajiangdahe
        yiqitongguochuang jiayounishizuibangde jinhun dahaoshiguang shaonianpai shanhaiqing""".split()),
    "dev": set("""zhiwomendanchundexiaomeihao renmindemingyi nishiwodeyan yijiarenzhiming humamaoba
        yueguangbianzouqu bianchengnidenayitian""".split()),
    "test": set("""huanlesong xiaohuanxi guainiguofenmeili xiangjianni wanmeiguanxi jiayouernv
        xiayizhanshixingfu rucikeaidewomen woju luohunshidai liujinsuiyue""".split()),
}


def _time(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


@register
class M3ED(Corpus):
    name = "m3ed"
    title = "M3ED"
    description = ("M3ED: dyadic dialogues from 56 Chinese TV series, 7 emotions, official series split, "
                   "Mandarin (audio, text).")
    modalities = ("audio", "text")
    language = "zh"
    licence = "academic research use under the M3ED licence agreement (AIM3 lab, Renmin University)"
    canonical = {c: c for c in CLASSES}
    default_protocol = {"kind": "official", "speaker_independent": True}
    expected = {"total": 24449}
    unverified = frozenset({"total"})
    layout_hint = ("annotation.json, splitInfo/movie_list_{train,val,test}.txt and "
                   "modality_speech/<Speaker>_<utterance id>.wav")
    labelset = LabelSet(CLASSES, {
        "seven": LabelView.identity("seven", CLASSES, "the 7 M3ED emotions"),
    }, default_view="seven")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        ann = root / "annotation.json"
        if not ann.is_file():
            raise CorpusError(f"{root}: not an M3ED root: no annotation.json. Expected {self.layout_hint}")
        try:
            meta = json.loads(ann.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CorpusError(f"{ann}:{getattr(e, 'lineno', '?')}: not valid JSON ({e})") from None
        split_of = self._splits(root / "splitInfo")
        sdir = root / "modality_speech"
        wavs = {f for f in os.listdir(sdir) if not is_hidden(f)} if sdir.is_dir() else set()
        rows = []
        for series, dialogues in meta.items():
            if series not in split_of:
                issues.problem(f"{ann}: {series}", "series in no splitInfo list",
                               f"{ann}: series '{series}' is in none of splitInfo/movie_list_*.txt{SKIP_HINT}")
                continue
            for dia, clip in dialogues.items():
                rows += self._dialogue(ann, series, dia, clip, split_of[series], sdir, wavs, issues)
        if not rows:
            raise CorpusError(f"{ann}: no utterances. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    @staticmethod
    def _splits(folder: Path) -> dict[str, str]:
        out = {}
        for split, fn in SPLIT_FILES.items():
            p = folder / fn
            if not p.is_file():
                raise CorpusError(f"{p}: missing; M3ED's official split needs splitInfo/{fn}")
            out.update({line.strip(): split for line in p.read_text(encoding="utf-8").splitlines() if line.strip()})
        return out

    def _dialogue(self, ann, series, dia, clip, split, sdir, wavs, issues) -> list[dict]:
        rows = []
        try:
            names = {k: v["Name"] for k, v in clip["SpeakerInfo"].items()}
            utts = clip["Dialog"].items()
        except (KeyError, TypeError, AttributeError):
            issues.problem(f"{ann}: {series}/{dia}", "no SpeakerInfo/Dialog",
                           f"{ann}: {series}/{dia}: expected SpeakerInfo {{A: {{Name}}}} and Dialog{SKIP_HINT}")
            return rows
        for turn, (uid, u) in enumerate(utts):
            try:
                spk = u["Speaker"]
                emo = canonical(u["EmoAnnotation"]["final_main_emo"])
                if emo not in CLASSES:
                    raise ValueError(f"final_main_emo '{u['EmoAnnotation']['final_main_emo']}' is not one of "
                                     "Happy Surprise Sad Disgust Anger Fear Neutral")
                name = names[spk]
            except (KeyError, TypeError, ValueError) as e:
                why = e if isinstance(e, ValueError) else f"missing {e}"
                issues.problem(f"{ann}: {uid}", f"malformed utterance: {why}",
                               f"{ann}: {series}/{dia}/{uid}: malformed utterance ({why}){SKIP_HINT}")
                continue
            wav = next((w for w in (f"{spk}_{uid}.wav", f"{uid}.wav") if w in wavs), None)
            rows.append({"id": uid, "speaker": f"{series}_{name}", "dialogue": f"{series}/{dia}", "turn": turn,
                         "split": split, "audio": str(sdir / wav) if wav else None, "text": u.get("Text"),
                         "language": "zh", "label": emo, "session": series,
                         "meta": json.dumps({"start": _time(u.get("StartTime")), "end": _time(u.get("EndTime"))})})
        return rows

    def caveats(self, df):
        out = []
        n = int(df["audio"].isna().sum())
        if n:
            out.append(f"{n} of {len(df)} utterances have no WAV in modality_speech/ (text only)")
        split_of = df.groupby("session")["split"].first().to_dict()
        moved = sorted(s for s, sp in split_of.items() if any(s in v for v in OFFICIAL.values())
                       and s not in OFFICIAL.get(sp, ()))
        if moved:
            out.append(f"splitInfo/ puts {len(moved)} series in another set than the official lists "
                       f"({', '.join(moved[:5])}): results are not comparable to the official split")
        return out
