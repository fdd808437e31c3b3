"""`predict` on a 10-minute recording: VAD + eGeMAPS + linear head, against real time; model load time.

The recording is EmoDB clips (shared data) strung together with pauses of 0.5-2.5 s until it
lasts ``--minutes``; the model is a linear adapter on eGeMAPS fitted on 80 other EmoDB clips
(what is measured is the inference pipeline; training is not timed). Features are computed
into a fresh cache, so nothing is read back from an earlier run; a second pass shows the
cached case.

    python benchmarks/bench_predict.py --emodb path/to/emodb [--minutes 10] [--jobs 1]

Targets (issue 9): at least 50x faster than real time; model load at most 2 s.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def recording(emodb: Path, out: Path, minutes: float, sr: int = 16000) -> float:
    import soundfile as sf
    import soxr

    rng = np.random.default_rng(0)
    files = sorted((emodb / "wav").glob("*.wav"))
    parts, total, i = [], 0.0, 0
    while total < minutes * 60:
        x, r = sf.read(files[i % len(files)], dtype="float32")
        pause = (rng.standard_normal(int(rng.uniform(0.5, 2.5) * sr)) * 1e-4).astype(np.float32)
        parts += [soxr.resample(x, r, sr).astype(np.float32), pause]
        total += len(x) / r + len(pause) / sr
        i += 1
    sig = np.concatenate(parts)[: int(minutes * 60 * sr)]
    sf.write(out, sig, sr)
    return len(sig) / sr


def model(emodb: Path, out: Path) -> Path:
    """A linear adapter on eGeMAPS, fitted on clips of speakers 03 and 08 (four emotions)."""
    import pandas as pd

    from affectbench.features import extract, get_extractor
    from affectbench.heads import make_head
    from affectbench.model import Model, save_model
    from affectbench.normalize import BlockFit, ZScore

    letters = {"N": 0, "F": 1, "T": 2, "W": 3}
    files = [p for p in sorted((emodb / "wav").glob("*.wav")) if p.name[:2] in ("03", "08") and p.name[5] in letters]
    ex = get_extractor("egemaps")
    df = pd.DataFrame({"id": [p.stem for p in files], "audio": [str(p) for p in files]})
    X = extract(ex, df, on_error="skip").X
    z = ZScore.fit(X)
    y = np.array([letters[p.name[5]] for p in files])
    opts = {"l2": 1e-3}
    head = make_head("linear", **opts).fit(z.apply(X), y, n_classes=4)
    m = Model(name="bench_emodb", labels=["neutral", "happy", "sad", "angry"], task="classification",
              extractors=[ex], blocks=[BlockFit("egemaps", "audio", "fold", zscore=z)], head=head,
              head_kind="linear", head_options=opts)
    return save_model(m, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--emodb", type=Path, required=True, help="EmoDB folder (holding wav/)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["AFFECTBENCH_HOME"] = str(tmp / "home")  # a fresh feature cache
    from affectbench.inference import predict
    from affectbench.model import load_model

    wav = tmp / "long.wav"
    dur = recording(a.emodb, wav, a.minutes)
    folder = model(a.emodb, tmp / "model")
    t = time.perf_counter()
    m = load_model(folder)
    t_load = time.perf_counter() - t
    from affectbench.segment import _vad_model

    t = time.perf_counter()
    _vad_model()  # importing torch and loading the VAD: once per process
    t_vad = time.perf_counter() - t
    cpu0 = _cpu()
    t = time.perf_counter()
    tl = predict(m, [str(wav)], jobs=a.jobs)
    t_first = time.perf_counter() - t
    cpu = _cpu() - cpu0
    t = time.perf_counter()
    predict(m, [str(wav)], jobs=a.jobs)
    t_cached = time.perf_counter() - t
    speech = sum(s.end - s.start for s in tl.segments)
    print(f"recording: {dur / 60:.1f} min, {len(tl.segments)} speech segments ({speech / 60:.1f} min of speech)")
    print(f"model load: {t_load:.3f} s   (target ≤ 2 s)")
    print(f"VAD model load + torch import (once per process): {t_vad:.2f} s")
    print(f"predict, features computed (jobs={a.jobs}): {t_first:.1f} s = {dur / t_first:.0f}x real time "
          f"(target ≥ 50x)")
    print(f"  CPU time of that predict (this process + workers): {cpu:.1f} s = {dur / cpu:.0f}x real time "
          "per busy core (what an idle machine would approach on one core)")
    print(f"predict again, features cached: {t_cached:.1f} s = {dur / t_cached:.0f}x real time")


def _cpu() -> float:
    import resource

    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


if __name__ == "__main__":
    main()
