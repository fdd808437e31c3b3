"""Throughput of the face path: Haar detection + FER2013 mini-Xception at 640x480, and on CK+48.

    python benchmarks/bench_face.py [--seconds 2] [--ckplus /path/to/ckplus48]

1. In-memory 640x480 frames (skimage astronaut, 448x448, panned across a grey
   640x480 canvas): frames/s for detection + crop + FER under several detector
   settings and OpenCV thread counts; "found" = share of frames with a face.
2. End to end: the ``fer`` extractor on 640x480 H.264 videos written with PyAV
   (decode + RGB + detect + FER, every frame), one process and through
   ``features.extract`` with 2 worker processes.
3. CK+48 (48x48 crops, ``fer-image`` with detect = "none"): images/s.

Numbers depend on the machine's load: the script prints ``uptime`` before and after.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def canvas_frames(n: int, w: int = 640, h: int = 480) -> list[np.ndarray]:
    import cv2
    from skimage import data

    face = cv2.resize(data.astronaut(), (448, 448), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(n):
        f = np.full((h, w, 3), 128, np.uint8)
        x = int(round(96 + 80 * np.sin(2 * np.pi * i / max(n, 1))))  # pan +-80 px
        x0, x1 = max(0, x), min(w, x + 448)
        f[16:464, x0:x1] = face[:, x0 - x:x1 - x]
        out.append(f)
    return out


def rate(fn, items, seconds: float) -> tuple[float, list]:
    fn(items[0])  # warm-up
    t0, n, res = time.perf_counter(), 0, []
    while True:
        for it in items:
            res.append(fn(it))
            n += 1
        if time.perf_counter() - t0 >= seconds:
            break
    return n / (time.perf_counter() - t0), res


def bench_frames(seconds: float) -> None:
    import cv2

    from affectbench.features.face import FaceDetector, FerModel, fer_face

    frames = canvas_frames(50)
    fer = FerModel(("probs", "logits"))
    print("\n## 1. detect + FER on 640x480 frames in memory (one process)")
    print("'full': the whole frame searched on every frame (images); 'tracked': near the previous "
          "face first, whole frame every 10th frame (videos, track = true, the default)")
    print(f"{'cv2 threads':>11} {'max_side':>8} {'scale':>5} {'full f/s':>9} {'found':>6} "
          f"{'tracked f/s':>11} {'found':>6}")
    for threads, max_side, sf in ((1, 640, 1.1), (1, 480, 1.1), (1, 320, 1.1), (2, 320, 1.1),
                                  (1, 320, 1.2), (1, 240, 1.1)):
        cv2.setNumThreads(threads)
        det = FaceDetector(max_side=max_side, scale_factor=sf)
        state = {"prev": None, "k": 0}

        def one(rgb, track=False):
            g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            near = state["prev"] if track and state["k"] % 10 else None
            box = det.detect(g, near=near)
            state["prev"], state["k"] = box, state["k"] + 1
            if box is not None:
                fer(fer_face(g, box))
            return box is not None

        full, found = rate(one, frames, seconds)
        tracked, found_t = rate(lambda f: one(f, True), frames, seconds)
        print(f"{threads:>11} {max_side:>8} {sf:>5} {full:>9.1f} {np.mean(found):>6.0%} "
              f"{tracked:>11.1f} {np.mean(found_t):>6.0%}")
    cv2.setNumThreads(1)
    g = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)
    box = FaceDetector().detect(g)
    fps, _ = rate(lambda _: fer(fer_face(g, box)), list(range(50)), seconds)
    print(f"FER alone (crop + mini-Xception): {fps:.0f} faces/s")


def bench_videos(seconds_of_video: float, tmp: Path) -> None:
    import pandas as pd

    from affectbench.features import extract
    from affectbench.features.base import get_extractor
    from affectbench.features import face  # noqa: F401  registration
    from affectbench.video import write_video

    n = int(25 * seconds_of_video)
    paths = []
    for k in range(4):
        p = tmp / f"clip{k}.mp4"
        write_video(p, canvas_frames(n)[k:] + canvas_frames(n)[:k], fps=25)
        paths.append(str(p))
    print(f"\n## 2. fer extractor end to end: 4 videos 640x480, {seconds_of_video:g} s at 25 fps each "
          "(decode + detect + FER on every frame)")
    ex = get_extractor("fer", fps=25)
    ex.ensure_setup()
    t0 = time.perf_counter()
    out = ex.process_batch([{"id": "0", "video": paths[0]}])
    dt = time.perf_counter() - t0
    print(f"1 process : {n / dt:6.1f} frames/s  ({ex.stats()['frames_without_face']} of "
          f"{ex.stats()['frames']} frames without a face, dim {out[0].shape[0] - 2} + 2 counts)")
    df = pd.DataFrame({"id": [str(i) for i in range(4)], "audio": None, "start": None, "end": None,
                       "text": None, "video": paths, "image": None})
    os.environ["AFFECTBENCH_HOME"] = str(tmp / "home")
    ex = get_extractor("fer", fps=25)
    t0 = time.perf_counter()
    res = extract(ex, df, jobs=2)
    dt = time.perf_counter() - t0
    print(f"2 workers : {4 * n / dt:6.1f} frames/s  (features.extract, jobs=2, incl. pool start; "
          f"{res.computed} videos)")
    ex = get_extractor("fer")  # default fps = 5: what a corpus run costs per second of video
    t0 = time.perf_counter()
    ex.process_batch([{"id": "0", "video": paths[1]}])
    dt = time.perf_counter() - t0
    print(f"default fps=5, 1 process: {seconds_of_video / dt:6.1f}x real time "
          "(decoding every frame, detecting on 1 in 5)")


def bench_ckplus(root: Path | None) -> None:
    from affectbench.features.base import get_extractor
    from affectbench.features import face  # noqa: F401

    if root is None or not root.is_dir():
        print("\n## 3. CK+48: folder not found, skipped")
        return
    files = sorted(root.glob("*/*.png"))
    items = [{"id": p.stem, "image": str(p)} for p in files]
    print(f"\n## 3. CK+48 ({len(files)} 48x48 png)")
    for cfg in ({"detect": "none"}, {"detect": "haar", "min_face": 0.5, "no_face": "frame"}):
        ex = get_extractor("fer-image", **cfg)
        ex.ensure_setup()
        t0 = time.perf_counter()
        res = ex.process_batch(items)
        dt = time.perf_counter() - t0
        bad = sum(isinstance(r, Exception) for r in res)
        st = ex.stats()
        print(f"fer-image {cfg}: {len(items) / dt:7.0f} images/s (read + FER), {bad} failed, "
              f"{st['frames_without_face']} of {st['frames']} without a Haar face")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per in-memory measurement")
    ap.add_argument("--video-seconds", type=float, default=8.0)
    ap.add_argument("--ckplus", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus48")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print("before:", uptime(), f"| {os.cpu_count()} cores")
    bench_frames(a.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        bench_videos(a.video_seconds, Path(tmp))
    bench_ckplus(a.ckplus)
    print("\nafter:", uptime())


if __name__ == "__main__":
    main()
