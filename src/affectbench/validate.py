"""Media checks for `affectbench corpora validate`.

Counting files is not enough: a copy interrupted mid-download has the right
number of files, some of them truncated, empty or not audio at all, and a
benchmark run would only find out deep into feature extraction. So validate
opens every media file the manifest names.

The default check reads headers only (libsndfile's ``sf.info``, PyAV's
container header, PIL's image header), plus the WAV chunk sizes that reveal a
truncated file. That is fast enough for every corpus. ``deep=True`` decodes
every file fully, which also finds what no header shows: NaN/infinite
samples, a corrupt stream behind a valid header.

A file (or, with start/end, a segment) shorter than :data:`MIN_DURATION` is
reported: no extractor can make sense of it, and in every corpus we read such
a file is a broken copy, not a real utterance.
"""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import MediaError

#: seconds; the shortest real utterance in the corpora we read is well above it
#: (IEMOCAP's shortest turns are ~0.6 s), while 0.1 s is 1600 samples at 16 kHz, the
#: least a frame-based extractor (25 ms windows, 10 ms hop) gives a handful of frames for
MIN_DURATION = 0.1

MEDIA_COLUMNS = ("audio", "video", "image")


def _seconds(v) -> float | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def regular_file(path: Path) -> int:
    """Size of a readable regular file, or a MediaError that says what it is instead.

    A FIFO or device would block or stream forever when opened, so the type is checked
    from ``stat`` before anything opens it.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError(path, "file not found") from None
    except OSError as e:
        raise MediaError(path, f"cannot be read ({e.strerror}); check its permissions") from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(path, "is a folder, not a media file")
    if not stat.S_ISREG(st.st_mode):
        raise MediaError(path, "not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError(path, "cannot be read (permission denied); check its permissions")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise MediaError(path, f"cannot be read ({e.strerror}); check its permissions") from None
    return st.st_size


def _short(name, dur: float, what: str = "") -> None:
    if dur < MIN_DURATION:
        raise MediaError(name, f"too short: {what}{dur:.3f} s (the minimum is {MIN_DURATION} s)")


def _segment(dur: float, start, end) -> tuple[float, str]:
    a, b = _seconds(start), _seconds(end)
    if a is None and b is None:
        return dur, ""
    a = a or 0.0
    b = dur if b is None else min(b, dur)
    return b - a, f"segment {a:.2f}–{b:.2f} s lasts "


def check_audio(path: str, start=None, end=None, deep: bool = False) -> None:
    """Raise :class:`MediaError` if ``path`` (file or ``tar://`` member) is not usable audio."""
    import soundfile as sf

    from .audio import _check_wav_length
    from .video import VIDEO_SUFFIXES

    name = str(path)
    if name.startswith("tar://"):
        from . import tario

        src = tario.member_file(name)
        size = len(src.getbuffer())
        if size == 0:
            raise MediaError(name, "empty file (0 bytes)")
    else:
        p = Path(name)
        size = regular_file(p)
        from .audio import PYAV_AUDIO_SUFFIXES

        if p.suffix.lower() in VIDEO_SUFFIXES + PYAV_AUDIO_SUFFIXES:  # MELD's mp4, MEAD's m4a
            return check_video(p, start, end, deep=deep, need_audio=True)
        src = open(p, "rb")
    try:
        _check_wav_length(src, size, name)
        try:
            info = sf.info(src)
        except Exception as e:
            why = str(e).rsplit(": ", 1)[-1]  # drop libsndfile's "Error opening <file object>:"
            raise MediaError(name, f"not readable audio (corrupt, truncated or not audio): {why}") from None
        if info.frames <= 0:
            raise MediaError(name, "zero-length audio (no samples)")
        dur, what = _segment(info.frames / info.samplerate, start, end)
        _short(name, dur, what)
        if deep:
            src.seek(0)
            from .audio import _decode

            _decode(src, name, info.samplerate, start, end)  # MediaError on NaN, bad stream
    finally:
        src.close()


def check_video(path, start=None, end=None, deep: bool = False, need_audio: bool = False) -> None:
    """Raise :class:`MediaError` if ``path`` is not a usable video container."""
    import av

    p = Path(path)
    regular_file(p)
    try:
        with av.open(str(p)) as c:
            if need_audio and not c.streams.audio:
                raise MediaError(p, "no audio stream in this video file")
            if not need_audio and not c.streams.video:
                raise MediaError(p, "no video stream in this file")
            dur = c.duration / 1e6 if c.duration else None
            if dur is None:
                s = (c.streams.audio if need_audio else c.streams.video)[0]
                dur = float(s.duration * s.time_base) if s.duration and s.time_base else None
            if dur is not None:
                seg, what = _segment(dur, start, end)
                _short(p, seg, what)
            if deep:
                stream = c.streams.audio[0] if need_audio else c.streams.video[0]
                n = 0
                for frame in c.decode(stream):
                    if need_audio:
                        x = frame.to_ndarray()
                        if x.dtype.kind == "f" and not np.isfinite(x).all():
                            raise MediaError(p, "audio contains NaN or infinite samples")
                    n += 1
                if n == 0:
                    raise MediaError(p, "the stream holds no frames")
    except MediaError:
        raise
    except Exception as e:  # av.error.InvalidDataError and friends
        raise MediaError(p, f"not a readable video (corrupt, truncated or not video): "
                            f"{type(e).__name__}: {e}") from None


def check_image(path, deep: bool = False) -> None:
    from PIL import Image

    p = Path(path)
    regular_file(p)
    try:
        with Image.open(p) as im:
            if deep:
                im.load()
            elif min(im.size) <= 0:
                raise MediaError(p, "image has no pixels")
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(p, f"not a readable image (corrupt, truncated or not an image): {e}") from None


def check_media(df: pd.DataFrame, deep: bool = False,
                progress: Callable[[int, int], None] | None = None) -> list[tuple[str, str]]:
    """(path, problem) for every media file of the manifest that cannot be used.

    Each distinct file (or audio segment) is opened once: IEMOCAP's dialog videos are
    shared by all the turns cut from them.
    """
    jobs: dict[tuple, tuple] = {}
    for col in MEDIA_COLUMNS:
        if col not in df.columns:
            continue
        starts = df["start"] if col == "audio" and "start" in df else pd.Series([None] * len(df), index=df.index)
        ends = df["end"] if col == "audio" and "end" in df else pd.Series([None] * len(df), index=df.index)
        for path, a, b in zip(df[col], starts, ends):
            if path is None or path is pd.NA or (isinstance(path, float) and math.isnan(path)) or path == "":
                continue
            a, b = _seconds(a), _seconds(b)
            key = (col, str(path)) + ((a, b) if col == "audio" else ())
            jobs.setdefault(key, (col, str(path), a, b))
    checks = {"audio": lambda p, a, b: check_audio(p, a, b, deep=deep),
              "video": lambda p, a, b: check_video(p, deep=deep),
              "image": lambda p, a, b: check_image(p, deep=deep)}
    bad: dict[str, str] = {}
    if progress:
        progress(0, len(jobs))
    for col, path, a, b in jobs.values():
        if path not in bad:  # a broken file is named once, not once per segment
            try:
                checks[col](path, a, b)
            except MediaError as e:
                bad[path] = e.problem
            except Exception as e:  # whatever else a broken copy throws: named, never a traceback
                bad[path] = f"cannot be read: {type(e).__name__}: {e}"
        if progress:
            progress(1, len(jobs))
    return sorted(bad.items())
