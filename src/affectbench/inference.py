"""``predict``: media or text in, a timeline out, through the same extractors, cache and saved model.

media → segments (silero-vad, fixed windows or the whole file) → extractor items
``{"audio": path, "start", "end", "text"}`` → each model's ``predict_items`` (one batch over
every segment of every file, so the feature cache and the extractors' batching apply) →
fused per segment → :class:`Timeline`.

Audio/text mode: tone from the audio of each segment, words from a sidecar transcript
(``.srt``/``.vtt``/``.txt`` beside the file, or ``transcript=``), a text the caller gives, or a
local speech-recognition folder (``asr_model=``). One multimodal model fuses them itself; several
models (``{"tone": m1, "text": m2}``) are fused late with the caller's weights. Every segment
keeps each model's (and each modality's, where a fusion head gives one) own prediction.

Video files go to :func:`affectbench.inference_video.predict_video` (face + tone + words)
when a model reads video; otherwise their audio track is used like any audio file.
A file that cannot be read is reported by name in ``messages`` / ``failed``; the others are
predicted. Audio without speech gives no segments and a message, not an error.
"""
from __future__ import annotations

import glob
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import MediaError, SpecError


@dataclass
class Segment:
    file: str
    start: float | None
    end: float | None
    label: str
    probs: dict[str, float]
    modalities: dict[str, dict] = field(default_factory=dict)  # model or modality -> {"label", "probs"}
    text: str | None = None


@dataclass
class Timeline:
    segments: list[Segment]
    messages: list[str]
    modalities_present: list[str]
    models_used: dict[str, str]
    failed: dict[str, str] = field(default_factory=dict)  # file (or item) -> problem

    def to_records(self) -> list[dict]:
        return [asdict(s) for s in self.segments]

    def to_frame(self):
        """One flat row per segment: probabilities as ``p_<label>``, each model's or modality's
        own prediction as ``<name>_label`` and ``<name>_p_<label>``."""
        import pandas as pd

        rows = []
        for s in self.segments:
            r = {"file": s.file, "start": s.start, "end": s.end, "label": s.label, "text": s.text}
            r.update({f"p_{k}": v for k, v in s.probs.items()})
            for name, pred in s.modalities.items():
                r[f"{name}_label"] = pred.get("label")
                r.update({f"{name}_p_{k}": v for k, v in pred.get("probs", {}).items()})
            rows.append(r)
        cols = ["file", "start", "end", "label", "text"]
        return pd.DataFrame(rows, columns=None if rows else cols)

    def extend(self, other: "Timeline") -> None:
        self.segments += other.segments
        self.messages += other.messages
        self.failed.update(other.failed)
        self.modalities_present = sorted(set(self.modalities_present) | set(other.modalities_present))
        for k, v in other.models_used.items():  # one entry per model: the user's name wins over a modality key
            if v not in self.models_used.values():
                self.models_used[k] = v


# ---- models ----------------------------------------------------------------------------------
def _models(models) -> dict:
    from .model import Model, load_model

    if isinstance(models, (Model, str, Path)):
        models = {"model": models}
    if not isinstance(models, dict) or not models:
        raise SpecError("predict needs a model, or a {name: model} mapping for late fusion")
    return {k: (m if isinstance(m, Model) else load_model(m)) for k, m in models.items()}


def _weights(models: dict, weights) -> dict:
    if not weights:
        return {k: 1.0 for k in models}
    unknown = sorted(set(weights) - set(models))
    if unknown:
        raise SpecError(f"fusion weights name {unknown}, which are not models; models: {', '.join(models)}")
    w = {k: float(weights.get(k, 0.0)) for k in models}
    if any(v < 0 or not math.isfinite(v) for v in w.values()) or sum(w.values()) <= 0:
        raise SpecError(f"fusion weights must be non-negative with a positive sum, got {w}")
    return w


def _used(models: dict) -> dict:
    return {k: str(m.path) if m.path else m.name for k, m in models.items()}


# ---- prediction on items ---------------------------------------------------------------------
def _labels(models: dict) -> list[str]:
    out: list[str] = []
    for m in models.values():
        out += [c for c in m.labels if c not in out]
    return out


def _predict(models: dict, items: list[dict], weights: dict, jobs: int = 1):
    """(fused probs [n, K], labels, per-name (model, probs), row -> reasons of the models that failed it)."""
    labels = _labels(models)
    pos = {c: j for j, c in enumerate(labels)}
    num = np.zeros((len(items), len(labels)))
    den = np.zeros(len(items))
    own, failed = {}, {}
    for key, m in models.items():
        out = m.predict_items(items, jobs=jobs)
        P = np.zeros((len(items), len(labels)))
        P[:, [pos[c] for c in m.labels]] = np.nan_to_num(out.probs)
        ok = np.isfinite(out.probs).all(1)
        num[ok] += weights[key] * P[ok]
        den[ok] += weights[key]
        own[key] = (m, out.probs)
        for mod, Pm in out.per_modality.items():
            own[f"{key}.{mod}" if len(models) > 1 else mod] = (m, Pm)
        for i, why in out.failed.items():
            failed.setdefault(i, {})[key] = why
    fused = np.full_like(num, np.nan)
    has = den > 0
    fused[has] = num[has] / den[has, None]
    return fused, labels, own, failed


def _segments(models: dict, items: list[dict], meta: list[dict], weights: dict, jobs: int = 1):
    """(segments, messages, failed): a row no model could predict is failed by name; a model that
    missed some rows another model covered is summed up in one message."""
    fused, labels, own, why = _predict(models, items, weights, jobs)
    single = next(iter(models.values())) if len(models) == 1 else None
    decided = single.decide(fused) if single else None  # once per model, not per row
    own_decided = {name: m.decide(P) for name, (m, P) in own.items()}
    segs, messages, failed, missed = [], [], {}, {}
    for i, (it, mt) in enumerate(zip(items, meta)):
        row = fused[i]
        if not np.isfinite(row).all():
            reasons = [_strip(r, mt["key"], mt["file"]) for r in why.get(i, {}).values()]
            failed[mt["key"]] = "; ".join(dict.fromkeys(reasons)) or "no prediction"
            messages.append(f"{mt['key']}: {failed[mt['key']]}")
            continue
        for key, reason in why.get(i, {}).items():
            missed.setdefault(key, []).append(reason)
        label = decided[i] if single else labels[int(row.argmax())]
        mods = {}
        for name, (m, P) in own.items():
            if np.isfinite(P[i]).all() and (single is None or name != "model"):
                mods[name] = {"label": own_decided[name][i], "probs": _probs(m.labels, P[i])}
        segs.append(Segment(mt["file"], mt.get("start"), mt.get("end"), label, _probs(labels, row), mods,
                            it.get("text")))
    for key, reasons in missed.items():
        messages.append(f"model '{key}' gave no prediction for {len(reasons)} of {len(items)} segment(s), e.g. "
                        f"{reasons[0]}; the other model(s) decided there")
    return segs, messages, failed


def _strip(reason: str, *names: str) -> str:
    for n in names:
        if reason.startswith(f"{n}: "):
            return reason[len(n) + 2:]
    return reason


def _probs(labels, row) -> dict:
    return {c: round(float(v), 6) for c, v in zip(labels, row)}


# ---- text ----------------------------------------------------------------------------------------
def predict_texts(model, texts: list[str], *, source: str = "<text>", fusion_weights=None) -> Timeline:
    """One segment per text (a model, or a {name: model} mapping of text models)."""
    models = _models(model)
    for k, m in models.items():
        if any(mod != "text" for mod in m.modalities):
            raise SpecError(f"model '{k}' reads {', '.join(sorted(set(m.modalities)))}: texts alone cannot feed it; "
                            "give it media files")
    ids = [f"line {i + 1}" if source != "<text>" else f"text {i + 1}" for i in range(len(texts))]
    items = [{"id": k, "text": t} for k, t in zip(ids, texts)]
    meta = [{"file": source, "start": None, "end": None, "key": f"utterance {k}"} for k in ids]
    segs, messages, failed = _segments(models, items, meta, _weights(models, fusion_weights))
    if source != "<text>":
        messages = [f"{source}: {m}" for m in messages]
    return Timeline(segs, messages, ["text"] if segs else [], _used(models), failed)


def read_text_file(path) -> list[str]:
    """One utterance per non-empty line (UTF-8)."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MediaError(p, "no such text file") from None
    except UnicodeDecodeError as e:
        raise MediaError(p, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise MediaError(p, f"cannot read it ({e.strerror or e})") from None
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    if not lines:
        raise MediaError(p, "empty text file (no utterance lines)")
    return lines


# ---- media -------------------------------------------------------------------------------------
def media_suffixes() -> set[str]:
    import soundfile as sf

    from .video import VIDEO_SUFFIXES

    return {f".{k.lower()}" for k in sf.available_formats()} | {".mp3", ".m4a", ".opus"} | set(VIDEO_SUFFIXES)


def expand_inputs(inputs) -> tuple[list[str], dict[str, str]]:
    """Files named, found in folders (media suffixes only) or matched by globs; (files, problems)."""
    files, problems = [], {}
    sufs = None
    for inp in ([inputs] if isinstance(inputs, (str, Path)) else list(inputs)):
        s = str(inp)
        p = Path(s).expanduser()
        if p.is_dir():
            sufs = sufs or media_suffixes()
            found = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.suffix.lower() in sufs
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                problems[s] = "a folder without audio or video files"
            files += found
        elif p.exists():
            files.append(str(p))
        elif glob.has_magic(s):
            found = sorted(f for f in glob.glob(str(p), recursive=True) if Path(f).is_file())
            if not found:
                problems[s] = "no file matches this pattern"
            files += found
        else:
            problems[s] = "no such file or folder"
    return list(dict.fromkeys(files)), problems


def _plan(path: str, *, window, vad, limits) -> tuple[list[tuple[float, float]] | None, np.ndarray, float]:
    """The file's segments (None: the whole file), its 16 kHz signal and duration."""
    from . import audio
    from .segment import SR, speech_segments, windows

    limits = limits or {}
    if limits.get("max_duration_s"):
        try:
            d = audio.duration(path)
        except Exception:
            d = None  # the decoder below names the problem
        if d is not None and d > float(limits["max_duration_s"]):
            raise MediaError(path, f"{d:.0f} s of media, over the limit of {float(limits['max_duration_s']):.0f} s")
    x = audio.load(path, SR)
    dur = len(x) / SR
    if window:
        return windows(dur, float(window)), x, dur
    if vad:
        return speech_segments(x, SR), x, dur
    return None, x, dur


def _words(path: str, segs, x, *, text, transcript, asr) -> list[str | None]:
    from .segment import SR, read_transcript, sidecar, words_for

    spans = segs if segs is not None else [(0.0, len(x) / SR)]
    if text is not None:
        return [text] * len(spans)
    src = Path(transcript) if transcript else sidecar(Path(path))
    if src is not None:
        cues = read_transcript(src)
        return [words_for(cues, s, e) for s, e in spans]
    if asr is not None:
        return asr.transcribe([x[int(s * SR):int(e * SR)] for s, e in spans])
    return [None] * len(spans)


def predict(models, inputs, *, text=None, window=None, vad=True, transcript=None, asr_model=None,
            fusion_weights=None, limits=None, jobs: int = 1) -> Timeline:
    """A timeline for media files, folders and globs (see the module docstring).

    ``models``: a Model (or its folder), or ``{name: Model}`` fused late with ``fusion_weights``
    (``{name: weight}``; default equal). ``window``: fixed windows of that many seconds instead
    of speech segments; ``vad=False`` and no window: one segment per file. ``limits``:
    ``{"max_duration_s": …}``; a longer file is refused by name.
    """
    models = _models(models)
    weights = _weights(models, fusion_weights)
    files, problems = expand_inputs(inputs)
    tl = Timeline([], [f"{k}: {v}" for k, v in problems.items()], [], _used(models), dict(problems))
    from .video import VIDEO_SUFFIXES

    asr = None
    if asr_model is not None and text is None:  # loaded once for every file, videos included
        from .segment import ASR

        asr = asr_model if hasattr(asr_model, "transcribe") else ASR(asr_model)
    reads_video = any("video" in m.modalities for m in models.values())
    if reads_video:
        vids = [f for f in files if Path(f).suffix.lower() in VIDEO_SUFFIXES]
        files = [f for f in files if f not in vids]
        for v in vids:
            try:
                tl.extend(_video(models, v, text=text, window=window, vad=vad, transcript=transcript,
                                 asr_model=asr or asr_model, fusion_weights=fusion_weights, limits=limits))
            except MediaError as e:  # one unreadable video is named; the other inputs go on
                tl.failed[e.path] = e.problem
                tl.messages.append(str(e))
        if files and any(set(m.modalities) <= {"video"} for m in models.values()):
            for f in files:
                tl.failed[f] = "not a video file; the model reads faces"
                tl.messages.append(f"{f}: not a video file; the model reads faces")
            files = []
    items, meta = [], []
    present = set()
    for f in files:
        try:
            segs, x, dur = _plan(f, window=window, vad=vad, limits=limits)
            words = _words(f, segs, x, text=text, transcript=transcript, asr=asr)
        except MediaError as e:
            tl.failed[e.path] = e.problem
            tl.messages.append(str(e))
            continue
        present.add("audio")
        if segs is not None and not segs:
            tl.messages.append(f"{f}: no speech found in {dur:.1f} s of audio; nothing to predict")
            continue
        spans = segs if segs is not None else [(None, None)]
        for (s, e), w in zip(spans, words):
            span = f"{0.0 if s is None else s:.2f}-{dur if e is None else e:.2f}s"
            items.append({"id": f"{Path(f).name}@{span}", "audio": f, "start": s, "end": e, "text": w})
            meta.append({"file": f, "start": 0.0 if s is None else round(s, 3),
                         "end": round(dur if e is None else e, 3), "key": f"{f}@{span}"})
            present |= {"text"} if w else set()
    if items:
        segs, messages, failed = _segments(models, items, meta, weights, jobs)
        tl.segments += segs
        tl.messages += messages
        tl.failed.update(failed)
    tl.modalities_present = sorted(set(tl.modalities_present) | present)
    return tl


def _video(models: dict, path: str, **kw) -> Timeline:
    from .inference_video import predict_video  # faces need cv2 and the face model: load on use

    return predict_video(models, path, **kw)


# ---- outputs -----------------------------------------------------------------------------------
WRITERS = (".jsonl", ".json", ".csv", ".parquet")


def write_timeline(tl: Timeline, path) -> Path:
    """JSON Lines (one nested record per segment), JSON (the whole timeline with its messages,
    modalities and models), CSV or Parquet (the flat frame), by the file's suffix."""
    import json

    path = Path(path).expanduser()
    suf = path.suffix.lower()
    if suf not in WRITERS:
        raise SpecError(f"{path}: unknown output type '{suf or '(none)'}'; use one of {', '.join(WRITERS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suf == ".jsonl":
        with open(path, "w", encoding="utf-8") as f:
            for r in tl.to_records():
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    elif suf == ".json":
        doc = {"segments": tl.to_records(), "messages": tl.messages, "failed": tl.failed,
               "modalities_present": tl.modalities_present, "models_used": tl.models_used}
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    elif suf == ".csv":
        tl.to_frame().to_csv(path, index=False)
    else:
        tl.to_frame().to_parquet(path, index=False)
    return path


def plot_timeline(tl: Timeline, path, max_files: int = 8) -> Path:
    """A PNG: per file, each segment a stacked bar of its class probabilities over its time span."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = list(dict.fromkeys(s.file for s in tl.segments))[:max_files] or ["(no segments)"]
    labels = list(dict.fromkeys(k for s in tl.segments for k in s.probs))
    colors = dict(zip(labels, plt.cm.tab20(np.linspace(0, 1, max(len(labels), 1)))))
    fig, axes = plt.subplots(len(files), 1, figsize=(11, 1.9 * len(files) + 0.8), squeeze=False)
    for ax, f in zip(axes[:, 0], files):
        for s in (x for x in tl.segments if x.file == f):
            bottom = 0.0
            for c in labels:
                v = s.probs.get(c, 0.0)
                ax.bar(s.start or 0.0, v, width=max((s.end or 0) - (s.start or 0), 0.05), bottom=bottom,
                       align="edge", color=colors[c], edgecolor="none")
                bottom += v
            ax.text(s.start or 0.0, 1.02, s.label, fontsize=7, va="bottom")
        ax.set_ylim(0, 1.15)
        ax.set_ylabel("p")
        ax.set_title(Path(f).name, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[c]) for c in labels]
    if handles:
        fig.legend(handles, labels, loc="upper right", ncol=min(len(labels), 7), fontsize=7)
    fig.suptitle(f"modalities: {', '.join(tl.modalities_present) or 'none'} · models: "
                 f"{', '.join(f'{k}={Path(v).name}' for k, v in tl.models_used.items())}", fontsize=8, x=0.01,
                 ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
