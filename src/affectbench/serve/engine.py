"""Requests to model calls: which loaded model answers what, and timelines as JSON.

Runs on worker threads (never on the event loop). Temp paths never reach a client:
every file name in a timeline or an error is replaced by the name the client sent.
Features of uploads stay in memory for the call (``features.store.memory_only``): each upload
is a new file, so caching them on disk would only grow the cache with every request.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import AffectbenchError
from ..video import VIDEO_SUFFIXES
from .limits import Limits, ServeError
from .media import Probe, decode_audio, probe, write_wav


@dataclass
class AudioJob:
    """A decoded clip waiting for its model call; clips without words for the same models share one."""

    path: Path
    name: str
    wav: Path
    models: dict
    text: str | None

    @property
    def key(self) -> tuple:
        return tuple(self.models)


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        return _clean(v.item())
    return v


def timeline_json(tl, name: str | None = None, temp: Path | None = None) -> dict:
    """The response body: segments with the client's file name, and what the timeline says about itself."""
    def fix(s):
        return s.replace(str(temp), name) if (temp is not None and isinstance(s, str)) else s

    segs = [{**r, "file": name if name is not None else r["file"], "modalities": r["modalities"] or {}}
            for r in tl.to_records()]
    return _clean({"file": name, "segments": segs, "messages": [fix(m) for m in tl.messages],
                   "modalities_present": list(tl.modalities_present), "models_used": dict(tl.models_used)})


def model_info(name: str, m) -> dict:
    card = getattr(m, "card", {}) or {}
    return _clean({"name": name, "task": m.task, "labels": list(m.labels), "modalities": list(m.modalities),
                   "model": getattr(m, "name", name), "metrics": card.get("metrics"),
                   "versions": card.get("versions")})


class Engine:
    def __init__(self, models: dict, limits: Limits):
        if not models:
            raise ServeError(500, "no_models", "serve needs at least one model")
        self.models, self.limits = dict(models), limits

    def by_modality(self, modality: str) -> list[str]:
        return [n for n, m in self.models.items() if set(m.modalities) == {modality}] or \
               [n for n, m in self.models.items() if modality in m.modalities]

    def pick(self, modality: str, name: str | None) -> str:
        if name:
            if name not in self.models:
                raise ServeError(422, "unknown_model", f"no model named '{name}'; loaded: "
                                                       f"{', '.join(self.models)}")
            if modality not in self.models[name].modalities:
                raise ServeError(422, "wrong_modality", f"model '{name}' reads "
                                 f"{'+'.join(self.models[name].modalities)}, not {modality}")
            return name
        names = self.by_modality(modality)
        if not names:
            raise ServeError(422, "no_model", f"no loaded model reads {modality}; loaded: " + ", ".join(
                f"{n} ({'+'.join(m.modalities)})" for n, m in self.models.items()))
        return names[0]

    # -- text --------------------------------------------------------------------------------
    def run_texts(self, name: str, texts: list[str]) -> list[dict]:
        """One model call for a batch of texts from many clients -> one segment dict per text."""
        from ..features.store import memory_only
        from ..inference import predict_texts

        with memory_only():
            tl = predict_texts({name: self.models[name]}, texts)
        body = self._named(timeline_json(tl))
        segs = body["segments"]
        if len(segs) != len(texts):  # predict_texts keeps one segment per text, failed ones included
            raise ServeError(500, "internal", f"{len(texts)} texts gave {len(segs)} results")
        return [dict(s, messages=body["messages"], models_used=body["models_used"]) for s in segs]

    # -- media -------------------------------------------------------------------------------
    def prepare(self, path: Path, name: str, fields: dict):
        """Worker thread: check the upload; a video is answered whole (a dict), an audio clip is
        decoded and returned as an :class:`AudioJob` for the cross-client batcher."""
        from ..features.store import memory_only

        p = probe(path, name, self.limits)
        text = (fields.get("text") or "").strip() or None
        with self._named_errors(path, name), memory_only():
            if p.has_video:
                return self._video(path, name, p, text, fields.get("model"))
            return self._audio_job(path, name, p, text, fields.get("model"))

    def run_audio(self, jobs: list["AudioJob"]) -> list[dict]:
        """Worker thread: one ``predict`` call over the clips of several clients -> one body each."""
        from ..features.store import memory_only
        from ..inference import Timeline, predict

        first = jobs[0]
        with self._named_errors(first.path, first.name), memory_only():
            tl = predict(first.models, [str(j.wav) for j in jobs], text=first.text, limits=self.limits.to_dict())
        out = []
        for j in jobs:
            w = str(j.wav)
            segs = [s for s in tl.segments if s.file == w]
            part = Timeline(segs, [m for m in tl.messages if w in m], ["audio"] + (["text"] if any(
                s.text for s in segs) else []), dict(tl.models_used), {k: v for k, v in tl.failed.items() if k == w})
            if j.path.suffix.lower() in VIDEO_SUFFIXES:
                part.messages.insert(0, f"{j.name}: no video stream: audio/text mode")
            out.append(self._named(timeline_json(part, j.name, j.wav)))
        return out

    @contextmanager
    def _named_errors(self, path: Path, name: str):
        try:
            yield
        except ServeError:
            raise
        except AffectbenchError as e:
            from ..inference_video import DecodeTimeout

            msg = str(e)
            for p in (path.with_suffix(".wav"), path.with_name("decoded.wav"), path):
                msg = msg.replace(str(p), name)
            raise ServeError(422, "decode_timeout" if isinstance(e, DecodeTimeout) else "media_error",
                             msg) from None

    def _models_for(self, modalities: list[str], name: str | None) -> dict:
        """{served name: model}: the one asked for, else the first model of each modality."""
        if name:
            if name not in self.models:
                self.pick(modalities[0], name)  # raises: unknown model, with the loaded names
            return {name: self.models[name]}
        out = {}
        for mod in modalities:
            names = [n for n in self.models if set(self.models[n].modalities) == {mod}]
            if names:
                out[names[0]] = self.models[names[0]]
        return out

    def _audio_job(self, path: Path, name: str, p: Probe, text, model_name) -> "AudioJob":
        name_model = self.pick("audio", model_name)
        models = {name_model: self.models[name_model]}
        if text and not model_name:
            models.update({n: self.models[n] for n in self.by_modality("text")[:1]})
        x = decode_audio(path, name, self.limits, declared=p.duration, fmt=p.format)
        wav = write_wav(x, path.with_suffix(".wav") if path.suffix != ".wav" else path.with_name("decoded.wav"))
        return AudioJob(path, name, wav, models, text)

    def _named(self, body: dict) -> dict:
        """Models by the names they are served under, never by their folders on this machine."""
        where = {str(m.path): n for n, m in self.models.items() if getattr(m, "path", None)}
        body["models_used"] = {k: where.get(v, v) for k, v in body["models_used"].items()}
        return body

    def _video(self, path: Path, name: str, p: Probe, text, model_name) -> dict:
        from ..inference_video import predict_video

        models = self._models_for(["audio", "video"] + (["text"] if text else []), model_name)
        tl = predict_video(models, str(path), text=text, limits=self.limits.to_dict())
        return self._named(timeline_json(tl, name, path))
