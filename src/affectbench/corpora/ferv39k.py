"""FERV39k (Wang et al., CVPR 2022): 38 935 in-the-wild facial-expression clips in 22 scenes.

Native layout (the archives extract to)::

    2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/<frame>.jpg    face crops, one folder per clip
    4_setups/All_scenes/train_All.csv, test_All.csv            "Action/Sad/0010 Sad" per line

(``4_setups/22_scenes/`` holds per-scene lists; ``0_7_LabelClips`` / ``3_ClipsforScenImages``
other renderings; they are not read.) Emotions: Angry, Disgust, Fear, Happy, Neutral, Sad,
Surprise. The split lists are space-separated, clip path then emotion; some copies add a
header line, which is skipped.

Rows: one per listed clip. id = the clip path with ``/`` → ``_`` (``Action_Sad_0010``);
``session`` = scene (``logo`` over ``session`` gives a cross-scene protocol); ``image`` =
the clip's middle frame, so image extractors (``fer-image``) see one face per clip;
``meta`` = ``{"frames": clip folder, "n_frames": n, "scene": …}``. Video extractors read
container files, not frame folders, so ``video`` stays empty (a caveat says so).

Protocol: the official train/test lists. There is no validation list and no subject or
source-video id, so validation is carved from training: in each (scene, emotion) folder,
the last 10 % of the training clips in name order are ``dev``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..labels import LabelSet, LabelView
from ..manifest import normalize
from ._native import find_dir, line_problem, not_root, read_text, shared_view
from .base import Corpus, is_hidden, register
from .caers import carve_tail

EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
CLASSES = tuple(e.lower() for e in EMOTIONS)
CANONICAL = {c: c for c in CLASSES}
SCENES = ("Action", "Argue", "Business", "Conflict", "Contest", "Crime", "Crisis", "DailyLife",
          "ElegantArt", "Experiment", "History", "Interview", "Liveshow", "Medicine", "OfficialEvent",
          "ScholarReport", "School", "Social", "Speech", "Talkshow", "Terror", "War")


@register
class FERV39k(Corpus):
    name = "ferv39k"
    title = "FERV39k"
    description = ("38 935 facial-expression video clips (face-crop frame folders) from 22 scenes, "
                   "7 classes, official train/test (image, one frame per clip).")
    modalities = ("image",)
    language = ""
    licence = "non-commercial research only (FERV39k licence agreement)"
    canonical = CANONICAL
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 38935}
    layout_hint = ("2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg and "
                   "4_setups/All_scenes/train_All.csv, test_All.csv (\"Action/Sad/0010 Sad\" per line)")
    labelset = LabelSet(CLASSES, {
        "all": LabelView.identity("all", CLASSES, "the 7 FERV39k expressions"),
        "shared": shared_view(CANONICAL),
    }, default_view="all")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        clips = find_dir(root, "2_ClipsforFaceCrop", depth=2)
        setups = find_dir(root, "All_scenes", depth=3)
        if clips is None or setups is None:
            missing = "2_ClipsforFaceCrop/" if clips is None else "4_setups/All_scenes/"
            raise not_root(root, self.title, f"no {missing} folder", self.layout_hint)
        if (clips / "2_ClipsforFaceCrop").is_dir():  # the zip adds a second level
            clips = clips / "2_ClipsforFaceCrop"
        rows = []
        for split in ("train", "test"):
            path = setups / f"{split}_All.csv"
            if not path.is_file():
                continue  # a partial copy: check() reports it
            listed = list(self._list(path, issues))
            dev = set()
            if split == "train":
                by_folder: dict[str, list[str]] = {}
                for _, rel, _ in listed:
                    by_folder.setdefault(rel.rsplit("/", 1)[0], []).append(rel)
                dev = {r for group in by_folder.values() for r in carve_tail(group)}
            for lineno, rel, emo in listed:
                row = self._row(clips, rel, emo, "dev" if rel in dev else split, issues, path, lineno)
                if row:
                    rows.append(row)
        if not rows:
            raise not_root(root, self.title, f"no clip listed in {setups}/*_All.csv exists", self.layout_hint)
        return normalize(rows, self.name)

    @staticmethod
    def _list(path: Path, issues):
        for lineno, line in enumerate(read_text(path).splitlines(), 1):
            parts = line.replace(",", " ").split()
            if not parts or (lineno == 1 and parts[-1] not in EMOTIONS):
                continue  # blank, or a header line
            rel = parts[0].strip("/").replace("\\", "/")
            segs = rel.split("/")
            if len(parts) != 2 or parts[1] not in EMOTIONS or len(segs) != 3 or segs[1] != parts[1]:
                line_problem(issues, path, lineno, f"not '<Scene>/<Emotion>/<clip> <Emotion>': {line.strip()!r:.60}")
                continue
            yield lineno, rel, parts[1]

    @staticmethod
    def _row(clips: Path, rel: str, emo: str, split: str, issues, path, lineno) -> dict | None:
        d = clips / rel
        try:
            frames = sorted(n for n in os.listdir(d) if n.lower().endswith((".jpg", ".png")) and not is_hidden(n))
        except OSError:
            frames = []
        if not frames:
            issues.problem(d, f"clip folder missing or without frames (listed in {path.name}:{lineno})")
            return None
        scene = rel.split("/")[0]
        return {"id": rel.replace("/", "_"), "session": scene, "split": split, "label": emo.lower(),
                "image": str(d / frames[len(frames) // 2]),
                "meta": json.dumps({"frames": str(d), "n_frames": len(frames), "scene": scene})}

    def caveats(self, df: pd.DataFrame) -> list[str]:
        return ["clips are frame folders: 'image' is each clip's middle frame, 'meta.frames' the folder; "
                "video extractors do not read frame folders",
                "validation = last 10 % of each training (scene, emotion) folder (carved, not official); "
                "no subject ids, so subject independence is unknown"]
