"""Generator of the ``demo_av`` corpus: audio, text and video whose emotion evidence is split.

This is a **demo, not a benchmark**. It exists so that fusion heads can be tested
for what they are for: combining modalities that each know only part of the
answer. Each emotion shows in exactly one modality and neutral in none:

=======  ==============================================  ======================
class    where it shows                                  elsewhere
=======  ==============================================  ======================
angry    the voice: louder, higher, pressed              plain words, resting face
sad      the words: loss, loneliness                     plain voice, resting face
happy    the face: a smile                               plain voice, plain words
neutral  nowhere                                         --
=======  ==============================================  ======================

So one modality finds one class and cannot tell the other three apart (UAR at most
(1 + 3 x 1/3) / 4 = 0.5), two find two classes and confuse the last pair (at most
0.75), and only all three separate everything. A fusion head that ignores a block
is capped at 0.75, one that works reaches ~0.9: the corpus tests that every block
is used, not only that fusing helps. The caps are structural, not tuning: the
classes a modality does not mark draw from *one* distribution there (the same
plain voice, the same pool of everyday sentences, the same resting face), so no
extractor can separate them.

(The obvious split -- audio tells arousal, text valence -- was tried first:
audio + text then identify every class and the video adds nothing measurable,
so a fusion that dropped the video block would pass.)

How each modality is made
-------------------------
* audio: :mod:`.demo_synth`'s synthetic voice (16 kHz mono WAV) with its angry
  prosody profile, 3 dB louder, for angry utterances and its neutral profile for all others.
* text: sad utterances say a sentence of loss from a pool written for this
  module, except 10 % that use an everyday sentence (a noisy cue, so fusion
  stays below 1); every other utterance says an everyday sentence from one
  shared pool.
* video: a 320x240 H.264 MP4 at 10 fps, as long as the audio (1.2-2 s), showing
  a real photograph of a face: Grace Hopper's portrait shipped with matplotlib
  (``mpl-data/sample_data/grace_hopper.jpg``, a US Navy photograph in the public
  domain; matplotlib is already a dependency, so nothing is downloaded). Each
  speaker is one fixed rendering of it (scale, position, mirror, brightness,
  contrast, gamma, colour cast, backdrop); within a clip the head drifts a few
  pixels. Happy clips lift and widen the mouth corners with a smooth image warp
  (onset in the first third, strength 0.5-1.0); every other clip keeps the
  resting mouth with a small random twitch. FER2013 reads the warp as "happy"
  (the resting face is ~0.96 "neutral"). The Haar cascade finds the face in
  every frame.
* missing video: one utterance in every (speaker, emotion) cell has no video
  (``video`` None): 12.5 % with the defaults, the same share in every class and
  speaker, so missing-modality handling is exercised without biasing a class.

Generation is deterministic for a seed (same WAV and MP4 bytes with the same
library versions) and each utterance is seeded from (seed, speaker, emotion,
index), so a smaller set holds the same files for the ids it shares. A
finished set is recognised by a marker written last and reused. Layout::

    wav/<id>.wav  mp4/<id>.mp4  metadata.json  demo_av_complete.json
"""
from __future__ import annotations

import json
import os
import pathlib

import numpy as np

from .demo_synth import (DEMO_EMOTIONS, _fill, _fricative_bank, _speaker_params,
                         _synth_utterance, _write_wav)

__all__ = ["DEMO_AV_EMOTIONS", "DEMO_AV_VERSION", "SIGNATURE", "synthesize_demo_av", "face_source"]

DEMO_AV_EMOTIONS = DEMO_EMOTIONS
DEMO_AV_VERSION = "1"  # bump when the generated data change (it keys caches)

#: the one modality in which each class shows (neutral shows in none)
SIGNATURE = {"angry": "audio", "sad": "text", "happy": "video"}
#: loudness added to demo_synth's angry profile (dB)
ANGRY_EXTRA_DB = 3.0
#: sad utterances that say an everyday sentence instead
MUTED_TEXT = 0.10

_MARKER = "demo_av_complete.json"
_METADATA = "metadata.json"
_CODE = {e: i for i, e in enumerate(DEMO_AV_EMOTIONS)}

# -- text (written for this module) ---------------------------------------------------------
_SAD = [
    "I miss her so much, the house feels empty now.",
    "Nobody came to see me, I feel so lonely.",
    "I lost the {thing} and I am heartbroken about it.",
    "It hurts to know that {person} is gone forever.",
    "I tried my best, but I failed again and I feel hopeless.",
    "Everything seems grey and sorrowful lately.",
    "I cried all night after the news about {person}.",
    "We said goodbye at {place} and I was in tears.",
    "I feel so alone, nothing will ever be the same.",
    "My heart aches whenever I think about {day}.",
    "The old {thing} reminds me of {person}, who is gone.",
    "I sat alone at {place} and nobody noticed.",
]
_EVERYDAY = [
    "The {thing} is on the table next to the window.",
    "Please send the {thing} to {place} before noon.",
    "I usually take the bus to {place} on {day}.",
    "{person} said the delivery will arrive around four.",
    "The forms are in the second drawer of the desk.",
    "We need two more chairs for the meeting room.",
    "The {thing} was moved to {place} last week.",
    "Turn left at the corner and walk past {place}.",
    "I will check the schedule for {day} and let you know.",
    "The shop closes at six on weekdays.",
    "{person} parked the car behind {place}.",
    "So that is what {person} decided on {day}.",
    "Did you see the {thing} this morning?",
    "The {thing} is still at {place}.",
    "Tell {person} to call me after lunch.",
    "We are going to {place} on {day}.",
]

# -- video ---------------------------------------------------------------------------------
_FACE_FILE = "grace_hopper.jpg"
_FACE_CENTRE = (266.0, 216.0)  # of the photograph (512x600): the Haar box is ~(155, 105, 222, 222)
_FACE_SIZE = 222.0
_MOUTH_CORNERS = ((238.0, 278.0), (302.0, 278.0))
# x264 single-threaded (its bytes depend on the thread count) and "ultrafast": no lookahead
# or macroblock tree, whose single-threaded path gave different bytes for the same frames
# from run to run (PyAV 18 / x264 core 165); also 2x faster
_X264 = {"threads": "1", "preset": "ultrafast"}
_CRF = 23
_SMILE_LIFT, _SMILE_WIDEN, _SMILE_SIGMA = 18.0, 6.0, 14.0  # photograph pixels at strength 1


def face_source() -> pathlib.Path:
    """The face photograph: shipped inside matplotlib (a dependency), public domain."""
    from matplotlib import cbook

    return pathlib.Path(cbook.get_sample_data(_FACE_FILE, asfileobj=False))


def _read_face() -> np.ndarray:
    import cv2

    img = cv2.imread(str(face_source()), cv2.IMREAD_COLOR)
    if img is None:  # pragma: no cover - matplotlib ships it
        raise FileNotFoundError(f"cannot read {face_source()}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class _Face:
    """One speaker's rendering of the photograph: fixed look, per-frame smile and drift."""

    def __init__(self, photo: np.ndarray, rng: np.random.Generator, size: tuple[int, int]):
        import cv2

        self.w, self.h = size
        scale = rng.uniform(125.0, 150.0) / _FACE_SIZE  # face box ~125-150 px in a 240 px frame
        img = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA).astype(np.float32)
        # look: contrast, brightness, gamma, colour cast; half the speakers mirrored
        img = (img - 128.0) * rng.uniform(0.85, 1.1) + 128.0 + rng.uniform(-15, 15)
        img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** rng.uniform(0.85, 1.15)
        img *= rng.uniform(0.92, 1.08, 3)
        self.img = np.clip(img, 0, 255).astype(np.uint8)
        # a unit smile: content at each mouth corner moves up and outwards (a backward map,
        # kept only where it moves anything: remapping the whole photograph per frame was
        # most of the generation time)
        sig = _SMILE_SIGMA * scale
        (lx, ly), (rx, ry) = ((x * scale, y * scale) for x, y in _MOUTH_CORNERS)
        pad = 3.5 * sig
        ph, pw = self.img.shape[:2]
        x0, x1 = max(0, int(lx - pad)), min(pw, int(np.ceil(rx + pad)))
        y0, y1 = max(0, int(min(ly, ry) - pad)), min(ph, int(np.ceil(max(ly, ry) + pad)))
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        fx, fy = np.zeros_like(xx), np.zeros_like(yy)
        for (cx, cy), side in (((lx, ly), -1.0), ((rx, ry), 1.0)):
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sig * sig))
            fx -= side * _SMILE_WIDEN * scale * g
            fy += _SMILE_LIFT * scale * g
        self.roi = (slice(y0, y1), slice(x0, x1))
        self.base, self.field = (xx, yy), (fx, fy)
        self.mirror = bool(rng.random() < 0.5)
        # where the face centre sits in the frame
        self.cx = self.w / 2 + rng.uniform(-25, 25)
        self.cy = self.h / 2 + rng.uniform(-15, 5)
        self.centre = (_FACE_CENTRE[0] * scale, _FACE_CENTRE[1] * scale)
        self.blank = np.empty((self.h, self.w, 3), np.uint8)
        self.blank[:] = rng.integers(40, 200, 3).astype(np.uint8)

    def frame(self, smile: float, dx: float, dy: float) -> np.ndarray:
        """Composed unmirrored, then flipped whole: cheaper than flipping the photograph."""
        import cv2

        cx = self.w - self.cx if self.mirror else self.cx
        ox = int(round(cx + (-dx if self.mirror else dx) - self.centre[0]))
        oy = int(round(self.cy + dy - self.centre[1]))
        out = self.blank.copy()  # (filling by broadcasting a colour took 1 ms a frame)
        _paste(out, self.img, oy, ox)
        if smile:
            (xx, yy), (fx, fy) = self.base, self.field
            mouth = cv2.remap(self.img, xx + smile * fx, yy + smile * fy, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
            _paste(out, mouth, oy + self.roi[0].start, ox + self.roi[1].start)
        return cv2.flip(out, 1) if self.mirror else out


def _paste(out: np.ndarray, img: np.ndarray, oy: int, ox: int) -> None:
    h, w = out.shape[:2]
    x0, y0 = max(ox, 0), max(oy, 0)
    x1, y1 = min(ox + img.shape[1], w), min(oy + img.shape[0], h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = img[y0 - oy:y1 - oy, x0 - ox:x1 - ox]


def _clip(face: _Face, label: str, n_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    t = np.arange(n_frames) / max(n_frames - 1, 1)
    if SIGNATURE.get(label) == "video":
        onset, strength = rng.uniform(0.0, 0.3), rng.uniform(0.5, 1.0)
        smile = strength * np.clip((t - onset) / 0.2, 0.0, 1.0)
    else:  # a resting mouth that twitches a little, both ways
        smile = rng.normal(0.0, 0.08) * np.sin(np.pi * t * rng.uniform(0.5, 2.0))
    walk = np.cumsum(rng.normal(0.0, 1.2, (n_frames, 2)), axis=0)
    return [face.frame(float(s), float(d[0]), float(d[1])) for s, d in zip(smile, walk)]


def _louder(y: np.ndarray, db: float) -> np.ndarray:
    y = y * 10.0 ** (db / 20.0)
    peak = np.max(np.abs(y))
    return y * (0.97 / peak) if peak > 0.97 else y


def _sentence(label: str, rng: np.random.Generator) -> str:
    said = SIGNATURE.get(label) == "text" and rng.random() >= MUTED_TEXT
    pool = _SAD if said else _EVERYDAY
    return _fill(pool[int(rng.integers(len(pool)))], rng)


def _params(n_speakers, per_class, seed, sample_rate, fps) -> dict:
    return {"n_speakers": int(n_speakers), "per_class": int(per_class), "seed": int(seed),
            "sample_rate": int(sample_rate), "fps": int(fps)}


def _load_existing(out_dir: pathlib.Path, marker: dict) -> list[dict] | None:
    try:
        if json.loads((out_dir / _MARKER).read_text(encoding="utf-8")) != marker:
            return None
        rows = json.loads((out_dir / _METADATA).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    out = []
    for r in rows:
        r = dict(r)
        for col in ("audio", "video"):
            if r[col] is not None:
                p = out_dir / r[col]
                if not p.is_file():
                    return None
                r[col] = str(p.resolve())
        out.append(r)
    return out if len(out) == marker["n_utterances"] else None


def synthesize_demo_av(out_dir: pathlib.Path, *, n_speakers: int = 8, per_class: int = 8, seed: int = 0,
                       sample_rate: int = 16000, fps: int = 10) -> list[dict]:
    """Write the corpus under ``out_dir`` (or reuse a finished one); one dict per utterance:
    id, speaker, gender, label, text, audio (absolute path), video (absolute path or None),
    duration (s)."""
    from ..video import write_video

    if n_speakers < 1 or per_class < 1:
        raise ValueError("n_speakers and per_class must be >= 1")
    out_dir = pathlib.Path(out_dir)
    marker = {"corpus": "affectbench-demo_av", "version": DEMO_AV_VERSION,
              "params": _params(n_speakers, per_class, seed, sample_rate, fps),
              "n_utterances": n_speakers * per_class * len(DEMO_AV_EMOTIONS)}
    found = _load_existing(out_dir, marker)
    if found is not None:
        return found
    (out_dir / "wav").mkdir(parents=True, exist_ok=True)
    (out_dir / "mp4").mkdir(parents=True, exist_ok=True)
    (out_dir / _MARKER).unlink(missing_ok=True)  # an interrupted rewrite must not look complete

    import cv2

    cv2.setNumThreads(1)
    photo = _read_face()
    fric = _fricative_bank(sample_rate)
    sw, uw = max(2, len(str(n_speakers))), max(2, len(str(per_class)))
    rows = []
    for si in range(n_speakers):
        voice = _speaker_params(seed, si)
        face = _Face(photo, np.random.default_rng(np.random.SeedSequence([seed, 11, si])), (320, 240))
        speaker = f"spk{si + 1:0{sw}d}"
        for label in DEMO_AV_EMOTIONS:
            no_video = (si + _CODE[label]) % per_class  # one per (speaker, emotion) cell
            for ui in range(per_class):
                rng = np.random.default_rng(np.random.SeedSequence([seed, 12, si, _CODE[label], ui]))
                text = _sentence(label, rng)
                prosody = label if SIGNATURE.get(label) == "audio" else "neutral"
                y = _synth_utterance(voice, prosody, rng, sample_rate, fric)
                if prosody == "angry":  # demo_synth's +5 dB left anger within one speaker's
                    y = _louder(y, ANGRY_EXTRA_DB)  # loudness range of another
                uid = f"{speaker}_{label}_{ui + 1:0{uw}d}"
                pcm = np.round(np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2")
                wav = out_dir / "wav" / f"{uid}.wav"
                _write_wav(wav, pcm, sample_rate)
                duration = len(pcm) / sample_rate
                video = None
                if ui != no_video:
                    video = out_dir / "mp4" / f"{uid}.mp4"
                    frames = _clip(face, label, max(2, int(round(duration * fps))), rng)
                    write_video(video, frames, fps=fps, crf=_CRF, options=_X264)
                rows.append({"id": uid, "speaker": speaker, "gender": voice["gender"], "label": label,
                             "text": text, "audio": str(wav.resolve()),
                             "video": None if video is None else str(video.resolve()),
                             "duration": round(duration, 4)})
    rel = [{**r, **{c: None if r[c] is None else pathlib.Path(os.path.relpath(r[c], out_dir.resolve())).as_posix()
                    for c in ("audio", "video")}} for r in rows]
    for name, obj in ((_METADATA, rel), (_MARKER, marker)):
        tmp = out_dir / (name + ".tmp")
        tmp.write_text(json.dumps(obj, indent=1, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, out_dir / name)
    return rows

