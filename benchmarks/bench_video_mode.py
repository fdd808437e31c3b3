"""The video mode end to end on a 640x480, 25 fps video with speech: at least real time.

    python benchmarks/bench_video_mode.py [--tone MODEL_DIR] [--seconds 30]

The video: EmoDB utterances joined to ``--seconds`` of speech (AAC) under H.264 frames with a
CK+ face moving across a changing background (the face leaves for the last fifth). One call of
``predict_video`` does it all: decoding every frame, tracked face detection + FER at 5 fps,
silero-vad, eGeMAPS and the tone model per speech segment, the text model on the words given,
late fusion. Timed twice: cold (first call in the process: models and VAD loaded) and warm.
Without --tone, a tone model (EmoDB) and a text model (demo sentences) are fitted first (not timed),
and the words given to the text model are one sentence for the whole clip.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def make_video(path: Path, emodb: Path, ckplus: Path, seconds: float) -> Path:
    import av
    import cv2

    parts, n = [], 0
    for f in sorted((emodb / "wav").glob("*.wav")):
        x, sr = sf.read(str(f), dtype="float32")
        parts += [x, np.zeros(sr // 2, np.float32)]
        n += len(x) + sr // 2
        if n >= seconds * 16000:
            break
    audio = np.concatenate(parts)[:int(seconds * 16000)]
    face = cv2.resize(cv2.imread(str(sorted((ckplus / "happy").glob("*.png"))[-1]), cv2.IMREAD_GRAYSCALE),
                      (200, 200), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 640, 480, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        for k in range(int(seconds * 25)):
            img = np.zeros((480, 640, 3), np.uint8)
            img[..., 0] = 90 + (k % 50)
            img[..., 1] = np.linspace(60, 160, 640, dtype=np.uint8)[None, :]
            if k < 0.8 * seconds * 25:
                x = 120 + (k * 2) % 300
                img[140:340, x:x + 200] = face[..., None]
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        for i in range(0, len(audio), 1024):
            fr = av.AudioFrame.from_ndarray(audio[None, i:i + 1024], format="flt", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = 16000, i, Fraction(1, 16000)
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tone", type=Path)
    ap.add_argument("--text", default="", help="a model folder for the words (default: none)")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--data", type=Path, default=DATA, help="folder holding emodb/ and ckplus48/")
    a = ap.parse_args()
    from affectbench.inference_video import predict_video
    from affectbench.model import load_model

    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        if a.tone is None:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from bench_serve import train_small

            a.tone, text = train_small(td / "models", a.data / "emodb")
            a.text = a.text or str(text)
        video = make_video(td / "speech_640x480_25fps.mp4", a.data / "emodb", a.data / "ckplus48", a.seconds)
        models = {"tone": load_model(a.tone)}
        if a.text:
            models["text"] = load_model(a.text)
        words = "I can't believe it, this is wonderful" if a.text else None
        for run in ("cold", "warm"):
            t = time.perf_counter()
            tl = predict_video(models, video, text=words)
            wall = time.perf_counter() - t
            print(f"{run}: {a.seconds:g} s of 640x480 25 fps video in {wall:.1f} s = {a.seconds / wall:.1f}x real "
                  f"time; {len(tl.segments)} segments, modalities {tl.modalities_present}; {tl.messages[0]}")
    sys.exit(0 if a.seconds / wall >= 1.0 else 1)


if __name__ == "__main__":
    main()
