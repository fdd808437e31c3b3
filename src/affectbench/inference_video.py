"""Video mode: one video in, one fused timeline out (face + tone of voice + words).

The audio track goes through the audio/text mode of :func:`affectbench.inference.predict`
(its speech segments, tone model, transcript or ASR, its late fusion of tone and words),
so both modes cut and score speech the same way. This module adds the faces: every
sampled frame is searched with the tracking Haar detector of ``features/face.py`` and
its 64x64 crop scored by the FER2013 model (7 classes); a segment's face prediction is
the mean over the frames inside it that show a face, and frames without one are counted.
The three are then fused per segment: by a trained multimodal model when one is given,
otherwise late fusion with the user's weights over the classes the modalities share.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MediaError, SpecError
from .labels import canonical

FACE = "video"  # the modality name of faces, as in the extractors' blocks
ALIASES = {"face": "video", "tone": "audio", "words": "text", "context": "text"}
DEFAULT_WINDOW = 2.0  # seconds per segment when there is no speech to cut on


class DecodeTimeout(MediaError):
    """Decoding the frames took longer than the caller allowed."""


@dataclass
class FaceFrames:
    """FER probabilities per sampled frame; a NaN row where no face was found."""

    times: np.ndarray
    probs: np.ndarray
    labels: tuple[str, ...]
    duration: float

    @property
    def frames(self) -> int:
        return len(self.times)

    @property
    def without_face(self) -> int:
        return int(np.isnan(self.probs[:, 0]).sum()) if len(self.probs) else 0

    def mean(self, start: float, end: float) -> tuple[np.ndarray | None, int, int]:
        """Mean face probabilities over frames in [start, end), with (frames, frames with a face)."""
        inside = (self.times >= start) & (self.times < end)
        P = self.probs[inside]
        ok = ~np.isnan(P[:, 0]) if len(P) else np.zeros(0, bool)
        return (P[ok].mean(0) if ok.any() else None), int(inside.sum()), int(ok.sum())


def face_frames(path, fps: float = 5.0, decode_timeout_s: float | None = None) -> FaceFrames:
    """Detect (tracking between frames) and score the face in every sampled frame of ``path``."""
    import cv2

    from .features.face import FER_LABELS, FaceDetector, FaceExtractor, FerModel, fer_face
    from .video import iter_frames

    cv2.setNumThreads(1)
    det, fer = FaceDetector(), FerModel(outputs=("probs",))
    times, probs, prev, t0, t = [], [], None, time.monotonic(), 0.0
    for k, (t, rgb) in enumerate(iter_frames(path, fps=fps)):
        if decode_timeout_s is not None and time.monotonic() - t0 > decode_timeout_s:
            raise DecodeTimeout(path, f"decoding the frames took longer than {decode_timeout_s:g} s "
                                      f"(stopped at {t:.1f} s of video)")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        box = det.detect(gray, near=prev if k % FaceExtractor.REDETECT else None)
        prev = box
        times.append(t)
        probs.append(fer(fer_face(gray, box)) if box is not None else np.full(len(FER_LABELS), np.nan))
    P = np.stack(probs).astype(np.float64) if probs else np.zeros((0, len(FER_LABELS)))
    return FaceFrames(np.asarray(times, float), P, FER_LABELS, float(t) + (1.0 / fps if fps else 0.0))


def streams(path) -> tuple[bool, bool, float | None]:
    """(has audio, has video, duration from the header) without decoding anything."""
    import av

    try:
        with av.open(str(path)) as c:
            dur = c.duration / av.time_base if c.duration else None
            video = any(not (s.disposition & av.stream.Disposition.attached_pic) for s in c.streams.video)
            return bool(c.streams.audio), video, dur
    except Exception as e:
        raise MediaError(path, f"cannot open (corrupt, truncated or not a video): {type(e).__name__}: {e}") from None


# -- fusion -------------------------------------------------------------------------------------
def normalise_weights(weights: dict | None) -> dict[str, float]:
    out = {}
    for k, v in (weights or {}).items():
        m = ALIASES.get(k, k)
        if m not in ("audio", "text", "video"):
            raise SpecError(f"fusion weight for '{k}': use audio (tone), text (words) or video (face)")
        if not (float(v) >= 0):
            raise SpecError(f"fusion weight for '{k}' must be >= 0, not {v}")
        out[m] = float(v)
    return out


def shared_classes(label_sets: dict[str, list[str]]) -> list[str]:
    """Canonical classes every modality predicts, in the first modality's order."""
    canon = {m: [canonical(x) for x in labels] for m, labels in label_sets.items()}
    first = next(iter(canon.values()))
    common = [c for c in first if all(c in v for v in canon.values())]
    if len(common) < 2:
        raise SpecError("late fusion needs classes the modalities share; " + "; ".join(
            f"{m}: {', '.join(v)}" for m, v in canon.items()) + ". Train a multimodal model instead")
    return common


def late_fuse(per_mod: dict[str, dict[str, float]], classes: list[str],
              weights: dict[str, float]) -> dict[str, float]:
    """Weighted mean of each modality's probabilities, renormalised over the shared classes."""
    acc, wsum = np.zeros(len(classes)), 0.0
    for m, probs in per_mod.items():
        w = weights.get(m, 1.0)
        p = {canonical(k): v for k, v in probs.items()}
        v = np.array([p.get(c, 0.0) for c in classes], float)
        if w <= 0 or not np.isfinite(v).all() or v.sum() <= 0:
            continue
        acc += w * v / v.sum()
        wsum += w
    return {c: float(x) for c, x in zip(classes, acc / wsum)} if wsum else {}
