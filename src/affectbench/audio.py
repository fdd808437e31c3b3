"""Audio decoding: any file libsndfile reads, to mono float32 at the target rate.

Stereo is averaged, other rates are resampled (soxr, high quality) rather than
refused. Every failure is a :class:`MediaError` naming the file and the problem.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import MediaError


#: audio-only containers decoded with PyAV, like the audio track of a video file
PYAV_AUDIO_SUFFIXES = (".m4a", ".aac")


def load(path: str | os.PathLike, sr: int = 16000, start: float | None = None,
         end: float | None = None) -> np.ndarray:
    """Decode ``path`` (a file, or a ``tar://shard#member`` inside a corpus shard) to mono float32."""
    if path is None or (isinstance(path, float) and path != path) or str(path) == "":
        raise MediaError("(no path)", "no audio file for this utterance (e.g. a video-only take)")
    name = str(path)
    if name.startswith("tar://"):  # EmotionTalk shards: read the member in place, never unpacked
        from . import tario

        src = tario.member_file(name)  # MediaError if missing or cut short
        size = len(src.getbuffer())
        if size == 0:
            raise MediaError(name, "empty file (0 bytes)")
        _check_wav_length(src, size, name)
        return _decode(src, name, sr, start, end)
    path = Path(path)
    from .validate import regular_file

    regular_file(path)  # MediaError for a missing, unreadable, empty or non-regular file
    from .video import VIDEO_SUFFIXES

    # MELD: the speech lives only in the mp4 clip; MEAD ships AAC in .m4a. Containers
    # libsndfile cannot open go through PyAV (libsndfile reads WAV, FLAC, OGG and MP3).
    if path.suffix.lower() in VIDEO_SUFFIXES + PYAV_AUDIO_SUFFIXES:
        from .video import load_audio_from_video

        return load_audio_from_video(path, sr, start, end)
    # Decoded from an open file, never by path: given a path, libsndfile looks for a macOS
    # resource fork "._<name>" beside the file and, for an MP3 without an ID3 tag, reads that
    # AppleDouble stub instead ("bad data offset") -- every file of a copy made on a Mac.
    with open(path, "rb") as f:
        _check_wav_length(f, path.stat().st_size, name)
        return _decode(f, name, sr, start, end)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _decode(src, name: str, sr: int, start, end) -> np.ndarray:
    try:
        with sf.SoundFile(src) as f:
            native = f.samplerate
            declared = f.frames
            first = 0 if _missing(start) else int(start * native)
            last = declared if _missing(end) else int(end * native)
            if first > 0:
                f.seek(min(first, declared))
            x = f.read(max(0, last - first), dtype="float32", always_2d=True)
    except Exception as e:  # libsndfile's messages are terse; keep them, add what it means
        raise MediaError(name, f"cannot decode audio (corrupt, truncated or not audio): {e}") from None
    if x.shape[0] == 0:
        raise MediaError(name, "zero-length audio (no samples)")
    x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
    if not np.isfinite(x).all():
        raise MediaError(name, "audio contains NaN or infinite samples")
    if native != sr:
        import soxr

        x = soxr.resample(x, native, sr, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_wav_length(f, size: int, name: str) -> None:
    """libsndfile silently shortens a truncated WAV to what is there; catch it from the header."""
    f.seek(0)
    head = f.read(12)
    try:
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return  # not a RIFF/WAVE file: libsndfile decides
        order = "little" if head[:4] == b"RIFF" else "big"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            hdr = f.read(8)
            n = int.from_bytes(hdr[4:8], order)
            if hdr[:4] == b"data":
                if n in (0, 0xFFFFFFFF):  # streaming writers leave the size open
                    return
                if pos + 8 + n > size:
                    raise MediaError(name, f"truncated WAV: the data chunk declares {n} bytes, "
                                           f"the file holds {size - pos - 8}")
                return
            pos += 8 + n + (n & 1)
    finally:
        f.seek(0)


def duration(path: str | os.PathLike, start: float | None = None, end: float | None = None) -> float:
    """Seconds of audio an item covers, from the header (the segment if start/end are given)."""
    name = str(path)
    if name.startswith("tar://"):
        from . import tario

        src = tario.member_file(name)
    else:
        src = open(name, "rb")  # by file, not path: see load() on macOS "._" files
    with src:
        info = sf.info(src)
    total = info.frames / info.samplerate
    first = 0.0 if _missing(start) else float(start)
    last = total if _missing(end) else min(float(end), total)
    return max(0.0, last - first)
