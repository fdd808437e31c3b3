"""What an upload is, checked from its container header before anything is decoded.

A 3-hour file is refused from the header's duration in milliseconds; only files
whose container declares no duration are measured while decoding, and decoding
stops at the limit. Decoding goes through PyAV (its own FFmpeg) so the browser's
webm/ogg recordings, mp3, m4a, flac and wav all work; the result is a 16 kHz mono
WAV inside the job's temp folder that the model pipeline reads like any file.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..segment import SR  # the rate every speech model here reads
from .limits import Limits, ServeError

#: FFmpeg demuxers that read pictures or text, never a recording (a .txt opens as "tty" video)
NOT_MEDIA = {"tty", "bin", "xbin", "adf", "idf", "image2", "gif", "apng", "webp_pipe", "ico", "svg"}


@dataclass
class Probe:
    has_audio: bool
    has_video: bool
    duration: float | None  # seconds, from the header; None when the container does not say
    format: str


def _undecodable(name: str, e: Exception | str) -> ServeError:
    why = e if isinstance(e, str) else f"{type(e).__name__}: {e}"
    return ServeError(415, "unsupported_media", f"{name}: not audio or video this server can decode "
                                                f"(wrong type, corrupt or truncated): {why}")


def _real_video(stream) -> bool:
    """A picture stream that is not an mp3/m4a cover image."""
    import av

    disp = getattr(stream, "disposition", 0)
    try:
        return not (disp & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):  # older PyAV
        return True


def probe(path: Path, name: str, limits: Limits) -> Probe:
    """Open the container, list its streams and check the declared duration against the limit."""
    import av

    if path.stat().st_size == 0:
        raise ServeError(422, "empty_upload", f"{name}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as c:
            audio = bool(c.streams.audio)
            video = any(_real_video(s) for s in c.streams.video)
            dur = c.duration / av.time_base if c.duration else None
            if dur is None:
                ds = [float(s.duration * s.time_base) for s in c.streams if s.duration and s.time_base]
                dur = max(ds) if ds else None
            fmt = c.format.name
    except Exception as e:
        raise _undecodable(name, e) from None
    if fmt in NOT_MEDIA or fmt.endswith("_pipe"):
        raise _undecodable(name, f"FFmpeg reads it as '{fmt}', a picture or text, not a recording")
    if not (audio or video):
        raise _undecodable(name, "no audio or video stream")
    check_duration(name, dur, limits)
    return Probe(audio, video, dur, fmt)


def check_duration(name: str, seconds: float | None, limits: Limits, decoded: bool = False) -> None:
    if seconds is not None and seconds > limits.max_duration_s:
        how = "decoded so far" if decoded else "declared by the file header"
        raise ServeError(413, "too_long", f"{name}: {seconds:.1f} s {how}, the limit is "
                                          f"{limits.max_duration_s:g} s; send a shorter clip")


#: containers libsndfile reads itself, with the project's checks (a WAV cut short is refused
#: from its header, where FFmpeg would estimate the duration from the file size)
SNDFILE_FORMATS = {"wav", "flac", "aiff", "w64", "caf"}


def decode_audio(path: Path, name: str, limits: Limits, declared: float | None = None,
                 fmt: str = "") -> np.ndarray:
    """The first audio stream as 16 kHz mono float32, within the duration and decode-time limits."""
    import av

    if fmt in SNDFILE_FORMATS:
        from .. import audio
        from ..errors import MediaError

        try:
            return audio.load(path, SR)
        except MediaError as e:
            raise _undecodable(name, e.problem) from None

    t0 = time.monotonic()
    chunks, n = [], 0
    try:
        with av.open(str(path)) as c:
            rs = av.AudioResampler(format="flt", layout="mono", rate=SR)
            for frame in c.decode(c.streams.audio[0]):
                for out in rs.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    n += chunks[-1].size
                check_duration(name, n / SR, limits, decoded=True)
                if time.monotonic() - t0 > limits.decode_timeout_s:
                    raise ServeError(422, "decode_timeout", f"{name}: decoding took longer than "
                                                            f"{limits.decode_timeout_s:g} s")
            for out in rs.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except ServeError:
        raise
    except Exception as e:
        raise _undecodable(name, e) from None
    x = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if x.size == 0:
        raise _undecodable(name, "the audio stream holds no samples")
    if declared and declared - x.size / SR > max(0.5, 0.1 * declared):
        raise _undecodable(name, f"truncated: the header declares {declared:.2f} s, "
                                 f"only {x.size / SR:.2f} s decode")
    if not np.isfinite(x).all():
        raise _undecodable(name, "NaN or infinite samples")
    return x


def write_wav(x: np.ndarray, path: Path) -> Path:
    import soundfile as sf

    sf.write(str(path), x, SR, subtype="PCM_16")
    return path
