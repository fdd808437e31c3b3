"""CMU-MOSEI, read from the CMU Multimodal SDK's files as downloaded (labels + raw media).

- Labels: ``CMU_MOSEI_Labels.csd`` (the "All Labels" computational sequence: per video
  ``data/<video id>/features`` [n, 7] = sentiment (-3…3), happy, sad, anger, surprise,
  disgust, fear (0…3), and ``intervals`` [n, 2] = start/end seconds), or the pair
  ``CMU_MOSEI_LabelsSentiment.csd`` + ``CMU_MOSEI_LabelsEmotions.csd`` of later SDK
  releases. A ``.csd`` is HDF5 (read with h5py); its first top-level group holds
  ``data`` and ``metadata``. Looked for in the root and one folder down.
- Media, where a copy has them: ``Raw/Audio/Full/WAV_16000/<video id>.wav``,
  ``Raw/Videos/Full/Combined/<video id>.mp4`` (whole videos: ``start``/``end`` and
  ``video_start``/``video_end`` locate the segment), and
  ``Raw/Transcript/Segmented/Combined/<video id>.txt`` with lines
  ``<video id>___<k>___<start>___<end>___<text>`` (matched to a labelled segment by
  its start time, to 10 ms).
- Split: the SDK's standard folds (``standard_train_fold`` / ``valid`` / ``test``,
  2250 / 300 / 678 videos), shipped as ``corpora/data/cmu_mosei_folds.json`` because
  they are part of the SDK's code, not of the data download.

Rows: one per labelled segment; id ``<video id>_<k>`` (k = the segment's index in the
label sequence, as the SDK's ``<video id>[k]``); dialogue = the video, turn = rank by
start; ``labels`` = the emotions with intensity > 0 (multi-label, as the benchmark
binarises them); ``sentiment`` = the mean rating; the six intensities are kept in
``meta``. ``label`` is empty: there is no single consensus emotion.

No speaker ids are released (about 1000 speakers over 3228 videos, some in several),
so the standard folds (video-disjoint) cannot be checked for speaker overlap: the
default protocol is the official split, not claimed speaker-independent.
"""
from __future__ import annotations

import json
import math
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorpusError
from ..labels import LabelSet, LabelView
from ..manifest import normalize
from .base import SKIP_HINT, Corpus, is_hidden, register

EMOTIONS = ("happy", "sad", "angry", "surprise", "disgust", "fear")  # the SDK's column order
ALL = "CMU_MOSEI_Labels.csd"
PAIR = ("CMU_MOSEI_LabelsSentiment.csd", "CMU_MOSEI_LabelsEmotions.csd")
AUDIO = ("Raw/Audio/Full/WAV_16000", "Raw/Audio/WAV_16000")
VIDEO = ("Raw/Videos/Full/Combined", "Raw/Videos/Full")
TRANSCRIPT = ("Raw/Transcript/Segmented/Combined", "Raw/Transcript/Segmented")


def standard_folds() -> dict[str, str]:
    """video id -> train / dev / test (the SDK's standard folds)."""
    data = json.loads(resources.files("affectbench.corpora").joinpath("data/cmu_mosei_folds.json").read_text())
    return {vid: split for split in ("train", "dev", "test") for vid in data[split]}


def read_csd(path: Path, columns: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """video id -> (features [n, columns], intervals [n, 2]); CorpusError names file and video."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise CorpusError(f"{path}: not a readable HDF5 computational sequence ({e})") from None
    with f:
        top = [k for k in f.keys()]
        if not top or "data" not in f[top[0]]:
            raise CorpusError(f"{path}: no <sequence>/data group; expected the SDK's .csd layout")
        out = {}
        for vid, g in f[top[0]]["data"].items():
            try:
                feats, ivals = np.asarray(g["features"][()], float), np.asarray(g["intervals"][()], float)
            except KeyError as e:
                raise CorpusError(f"{path}: video '{vid}': no {e} dataset") from None
            if feats.ndim != 2 or feats.shape[1] != columns or ivals.shape != (len(feats), 2):
                raise CorpusError(f"{path}: video '{vid}': features {feats.shape} / intervals {ivals.shape}, "
                                  f"expected [n, {columns}] / [n, 2]")
            if not (np.isfinite(feats).all() and np.isfinite(ivals).all()):
                raise CorpusError(f"{path}: video '{vid}': non-finite labels or times")
            out[vid] = (feats, ivals)
    return out


@register
class CMUMOSEI(Corpus):
    name = "cmu_mosei"
    title = "CMU-MOSEI"
    description = ("CMU Multimodal Opinion Sentiment and Emotion Intensity: YouTube monologue segments, "
                   "sentiment (-3…3) + 6 emotion intensities, standard folds, English (audio, video, text).")
    modalities = ("audio", "video", "text")
    language = "en"
    licence = "research use (CMU MultiComp Lab; videos from YouTube)"
    canonical = {c: c for c in EMOTIONS}
    default_protocol = {"kind": "official", "speaker_independent": False}
    expected = {"total": 23453}
    unverified = frozenset({"total"})
    layout_hint = ("CMU_MOSEI_Labels.csd (or CMU_MOSEI_LabelsSentiment.csd + CMU_MOSEI_LabelsEmotions.csd), "
                   "optionally Raw/Audio/Full/WAV_16000/<video>.wav, Raw/Videos/Full/Combined/<video>.mp4, "
                   "Raw/Transcript/Segmented/Combined/<video>.txt")
    labelset = LabelSet(EMOTIONS, {
        "six": LabelView.identity("six", EMOTIONS, "emotions present (intensity > 0), multi-label; "
                                  "segments with none are left out", multilabel=True),
        "sentiment": LabelView.regression("sentiment", ("sentiment",), "mean sentiment rating (-3…3)"),
    }, default_view="six")

    def read(self, root: Path, on_error, issues) -> pd.DataFrame:
        base, labels = self._labels(root)
        split_of = standard_folds()
        media = {kind: next((base / d for d in dirs if (base / d).is_dir()), None)
                 for kind, dirs in (("audio", AUDIO), ("video", VIDEO), ("text", TRANSCRIPT))}
        listing = {k: ({f for f in os.listdir(d) if not is_hidden(f)} if d else set())
                   for k, d in media.items()}
        rows = []
        for vid in sorted(labels):
            feats, ivals = labels[vid]
            texts = self._transcript(media["text"], vid, listing["text"], issues)
            order = np.argsort(ivals[:, 0], kind="stable")
            audio = media["audio"] / f"{vid}.wav" if f"{vid}.wav" in listing["audio"] else None
            video = media["video"] / f"{vid}.mp4" if f"{vid}.mp4" in listing["video"] else None
            for turn, k in enumerate(order):
                start, end = float(ivals[k, 0]), float(ivals[k, 1])
                inten = dict(zip(EMOTIONS, (round(float(x), 4) for x in feats[k, 1:])))
                rows.append({"id": f"{vid}_{k}", "dialogue": vid, "turn": turn, "split": split_of.get(vid),
                             "audio": str(audio) if audio else None, "start": start if audio else math.nan,
                             "end": end if audio else math.nan, "video": str(video) if video else None,
                             "video_start": start if video else math.nan, "video_end": end if video else math.nan,
                             "text": texts.get(round(start, 2)), "language": "en",
                             "labels": [e for e in EMOTIONS if inten[e] > 0], "sentiment": float(feats[k, 0]),
                             "meta": json.dumps({"intensity": inten})})
        if not rows:
            raise CorpusError(f"{root}: the label sequence holds no segments. Expected {self.layout_hint}")
        return normalize(rows, self.name)

    def _labels(self, root: Path) -> tuple[Path, dict]:
        for base in [root] + sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p.name)):
            if (base / ALL).is_file():
                return base, read_csd(base / ALL, 7)
            if all((base / f).is_file() for f in PAIR):
                sent, emo = read_csd(base / PAIR[0], 1), read_csd(base / PAIR[1], 6)
                return base, self._join(base, sent, emo)
        raise CorpusError(f"{root}: not a CMU-MOSEI root: no {ALL} (nor {' + '.join(PAIR)}) here or one "
                          f"folder down. Expected {self.layout_hint}")

    @staticmethod
    def _join(base, sent, emo) -> dict:
        out = {}
        for vid in sorted(set(sent) | set(emo)):
            if vid not in sent or vid not in emo or not np.allclose(sent[vid][1], emo[vid][1]):
                raise CorpusError(f"{base / PAIR[0]} and {PAIR[1]}: video '{vid}' has different segments in "
                                  "the two label sequences")
            out[vid] = (np.concatenate([sent[vid][0], emo[vid][0]], axis=1), sent[vid][1])
        return out

    @staticmethod
    def _transcript(folder, vid, listing, issues) -> dict[float, str]:
        if folder is None or f"{vid}.txt" not in listing:
            return {}
        path, out = folder / f"{vid}.txt", {}
        for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split("___", 4)
            try:
                if len(parts) != 5 or parts[0] != vid:
                    raise ValueError(f"not '{vid}___<k>___<start>___<end>___<text>'")
                out[round(float(parts[2]), 2)] = parts[4].strip()
            except ValueError as e:
                issues.problem(f"{path}:{i}", f"malformed line: {e}", f"{path}:{i}: malformed line ({e}){SKIP_HINT}")
        return out

    def caveats(self, df):
        out = ["no speaker ids: the standard folds are video-disjoint, speaker overlap between them is unknown"]
        n = int(df["split"].isna().sum())
        if n:
            out.append(f"{n} segments belong to videos outside the SDK's standard folds (split empty)")
        if df["audio"].isna().all():
            out.append("no Raw/Audio/Full/WAV_16000/: labels only (no media)")
        return out
