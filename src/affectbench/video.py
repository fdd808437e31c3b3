"""Video containers: decoding what affectbench needs from mp4/avi/mkv/flv/webm files.

A small module of functions on top of PyAV (which ships its own FFmpeg, so no
system ``ffmpeg`` is assumed). Corpora such as MELD distribute one clip per
utterance with the speech only inside the video container; audio extractors
reach it through :func:`affectbench.audio.load`, which hands video suffixes to
:func:`load_audio_from_video`. Every failure is a :class:`MediaError` naming
the file and the problem, like the rest of the media layer.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np

from .errors import MediaError

#: suffixes that :func:`affectbench.audio.load` decodes through this module
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".flv", ".webm", ".mov", ".m4v")


def _seconds(v) -> float | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def load_audio_from_video(path: str | os.PathLike, sr: int = 16000, start: float | None = None,
                          end: float | None = None) -> np.ndarray:
    """Decode the first audio stream of a video file to mono float32 at ``sr`` Hz.

    ``start``/``end`` (seconds, None/NaN = file start/end) cut the decoded signal,
    matching :func:`affectbench.audio.load`. Resampling and down-mixing are done
    by FFmpeg's resampler inside PyAV.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    st = path.stat()
    if st.st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    x = _decoded_track(str(path), sr, st.st_mtime_ns, st.st_size)
    first, last = _seconds(start), _seconds(end)
    if first is not None or last is not None:
        a = 0 if first is None else max(0, int(round(first * sr)))
        b = len(x) if last is None else min(len(x), int(round(last * sr)))
        x = x[a:b]
    if x.size == 0:
        raise MediaError(path, "zero-length audio (the audio stream holds no samples)")
    if not np.isfinite(x).all():
        raise MediaError(path, "audio contains NaN or infinite samples")
    return np.array(x, dtype=np.float32)  # a copy: the decoded track stays cached unchanged


@functools.lru_cache(maxsize=2)
def _decoded_track(path_str: str, sr: int, mtime_ns: int, size: int) -> np.ndarray:
    """The whole first audio track, decoded once per file version: video mode and segmented
    corpora read one speech segment after another from the same file, and each read used to
    decode the full track again. Keyed on mtime and size, so a rewritten file is decoded anew."""
    path = Path(path_str)
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency
        raise MediaError(path, "decoding audio from video needs PyAV: pip install av") from None
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise MediaError(path, "no audio stream in this video file")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
            for frame in container.decode(streams[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):  # flush what the resampler still holds
                chunks.append(out.to_ndarray().reshape(-1))
    except MediaError:
        raise
    except Exception as e:  # av.error.InvalidDataError and friends: keep FFmpeg's words
        raise MediaError(path, f"cannot decode audio from video (corrupt, truncated or "
                               f"not a video): {type(e).__name__}: {e}") from None
    x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    x.setflags(write=False)
    return x


def iter_frames(path: str | os.PathLike, fps: float | None = 5.0, start: float | None = None,
                end: float | None = None):
    """Yield ``(t, frame)`` from the first video stream: ``t`` in seconds from the file start,
    ``frame`` an RGB ``uint8`` array of shape (height, width, 3).

    Frames are sampled on a grid ``start, start + 1/fps, ...``: the first decoded frame at or
    after each grid time is yielded, so a 25 fps file read at ``fps=5`` gives every fifth
    frame and a file slower than ``fps`` gives each of its frames once (never duplicates).
    ``fps=None`` yields every frame. ``start``/``end`` (seconds, None/NaN = file start/end)
    seek to the keyframe before ``start`` and stop at ``end``. Only sampled frames are
    converted to RGB. A file that cannot be opened or decoded, has no video stream or no
    frame inside [start, end) raises :class:`MediaError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(path, "file not found")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive or None, not {fps!r}")
    import av

    first, last = _seconds(start), _seconds(end)
    try:
        container = av.open(str(path))
    except Exception as e:
        raise MediaError(path, f"cannot open video (corrupt, truncated or not a video): "
                               f"{type(e).__name__}: {e}") from None
    n_yielded = n_decoded = 0
    with container:
        if not container.streams.video:
            raise MediaError(path, "no video stream in this file")
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        step = None if fps is None else 1.0 / fps
        next_t = None
        try:
            if first is not None and first > 0:
                container.seek(int(first / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else n_decoded / rate
                n_decoded += 1
                if first is not None and t < first - 1e-6:
                    continue
                if last is not None and t >= last - 1e-6:
                    break
                if step is not None:
                    if next_t is None:
                        next_t = first if first is not None else t
                    if t < next_t - 1e-3:
                        continue
                    while next_t <= t + 1e-3:  # skip grid points a slow or gappy stream jumped over
                        next_t += step
                n_yielded += 1
                yield t, frame.to_ndarray(format="rgb24")
        except MediaError:
            raise
        except av.error.FFmpegError as e:
            raise MediaError(path, f"cannot decode video after {n_decoded} frame(s) (corrupt or "
                                   f"truncated): {type(e).__name__}: {e}") from None
    if n_yielded == 0:
        span = "" if first is None and last is None else f" between {first or 0:g} s and " + (
            "the end" if last is None else f"{last:g} s")
        raise MediaError(path, f"no video frames{span} ({n_decoded} decoded)")


def write_video(path: str | os.PathLike, frames, fps: float = 25, codec: str = "libx264",
                crf: int = 18, options: dict | None = None) -> Path:
    """Encode RGB ``uint8`` frames (same even-sized shape) to a video file; for tests and demos.

    ``options`` go to the encoder on top of the defaults; ``{"threads": "1"}`` makes x264's
    bytes independent of the machine's core count (the generated demo corpora need that).
    """
    import av
    from fractions import Fraction

    path = Path(path)
    frames = iter(frames)
    first = np.asarray(next(frames))
    h, w = first.shape[:2]
    with av.open(str(path), mode="w") as out:
        st = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            st.options = {"crf": str(crf), "preset": "veryfast", **(options or {})}
        elif options:
            st.options = dict(options)
        for img in (first, *frames):
            for pkt in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img, np.uint8),
                                                             format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path
