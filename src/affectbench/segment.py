"""Cutting media into the segments a model predicts on, and the words that go with them.

- speech segments from silero-vad (its PyPI package ships the model; its batched "sequence"
  ONNX build, run by ONNX Runtime), or fixed windows;
- words per segment from a sidecar transcript (``.srt`` / ``.vtt`` with times, parsed by the
  ``srt`` and ``webvtt-py`` libraries; ``.txt`` without times), or from a local Whisper-style
  speech-recognition folder loaded with transformers.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MediaError

SR = 16000
#: shorter speech (or a shorter last window) is not worth a prediction: openSMILE gives NaN
MIN_SEGMENT = 0.25
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".txt")


@dataclass
class Cue:
    start: float | None
    end: float | None
    text: str


@functools.lru_cache(maxsize=1)
def _vad_model():
    """silero-vad's batched ONNX model: one ONNX Runtime call per ~16 s of audio instead of a
    Python-level call per 32 ms frame (the stock loop ran ~15x slower here). Importing the
    package sets torch to one thread process-wide; the caller's setting is put back."""
    import torch

    threads = torch.get_num_threads()
    try:
        from silero_vad import load_silero_vad

        return load_silero_vad(sequence=True)
    finally:
        torch.set_num_threads(threads)


def speech_segments(x: np.ndarray, sr: int = SR, *, min_silence: float = 0.5, pad: float = 0.1,
                    max_segment: float = 30.0) -> list[tuple[float, float]]:
    """(start, end) seconds of speech in a 16 kHz mono signal; utterance-like pieces: pauses
    under ``min_silence`` do not cut, and no piece runs longer than ``max_segment``."""
    if sr != SR:
        raise ValueError("speech_segments takes 16 kHz audio")
    model = _vad_model()
    from silero_vad import get_speech_timestamps_sequence

    ts = get_speech_timestamps_sequence(np.ascontiguousarray(x, np.float32), model, sampling_rate=sr,
                                        min_speech_duration_ms=int(MIN_SEGMENT * 1000),
                                        min_silence_duration_ms=int(min_silence * 1000),
                                        speech_pad_ms=int(pad * 1000), max_speech_duration_s=max_segment)
    return [(t["start"] / sr, t["end"] / sr) for t in ts]


def windows(duration: float, size: float) -> list[tuple[float, float]]:
    """Consecutive windows of ``size`` seconds; a last piece shorter than MIN_SEGMENT is dropped."""
    if size <= 0:
        raise ValueError(f"window must be positive, got {size}")
    out, t = [], 0.0
    while t < duration - 1e-9:
        e = min(t + size, duration)
        if e - t >= MIN_SEGMENT:
            out.append((round(t, 3), round(e, 3)))
        t += size
    return out


# ---- transcripts ---------------------------------------------------------------------------
def sidecar(path: Path) -> Path | None:
    """A transcript beside a media file: same stem, .srt / .vtt / .txt (first found)."""
    for suf in TRANSCRIPT_SUFFIXES:
        p = Path(path).with_suffix(suf)
        if p.is_file() and p != Path(path):
            return p
    return None


def read_transcript(path) -> list[Cue]:
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise MediaError(path, f"cannot read the transcript ({e})") from None
    suf = path.suffix.lower()
    try:
        if suf == ".srt":
            import srt

            return [Cue(c.start.total_seconds(), c.end.total_seconds(), " ".join(c.content.split()))
                    for c in srt.parse(raw)]
        if suf == ".vtt":
            import io

            import webvtt

            return [Cue(c.start_in_seconds, c.end_in_seconds, " ".join(c.text.split()))
                    for c in webvtt.from_buffer(io.StringIO(raw))]
    except Exception as e:  # the parsers' own errors say where the file is malformed
        raise MediaError(path, f"malformed {suf[1:]} transcript ({type(e).__name__}: {e})") from None
    text = " ".join(raw.split())
    return [Cue(None, None, text)] if text else []


def words_for(cues: list[Cue], start: float, end: float) -> str | None:
    """The words of the cues that overlap [start, end); a cue without times covers everything."""
    parts = [c.text for c in cues if c.text and (c.start is None or (c.start < end and c.end > start))]
    return " ".join(parts) if parts else None


# ---- speech recognition ----------------------------------------------------------------------
class ASR:
    """A Whisper-style model folder (``from_pretrained(local_dir)``; nothing is downloaded)."""

    def __init__(self, folder, max_new_tokens: int = 96):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise MediaError(folder, "no such speech-recognition model folder")
        from transformers import AutoModelForSpeechSeq2Seq, AutoProcessor

        try:
            self.processor = AutoProcessor.from_pretrained(folder)
            self.model = AutoModelForSpeechSeq2Seq.from_pretrained(folder).eval()
        except Exception as e:
            raise MediaError(folder, f"cannot load a speech-recognition model from it ({type(e).__name__}: {e})") from None
        limit = int(getattr(self.model.config, "max_target_positions", 448))
        self.folder, self.max_new_tokens = folder, max(1, min(max_new_tokens, limit - 8))  # room for the prompt

    def transcribe(self, signals: list[np.ndarray], batch: int = 8) -> list[str]:
        import torch

        out = []
        with torch.inference_mode():
            for s in range(0, len(signals), batch):
                part = signals[s:s + batch]
                feats = self.processor(part, sampling_rate=SR, return_tensors="pt")
                ids = self.model.generate(feats.input_features, max_new_tokens=self.max_new_tokens)
                out += [t.strip() for t in self.processor.batch_decode(ids, skip_special_tokens=True)]
        return out
