"""Mixture export speed and memory, and perturbation throughput (issue 12).

    python benchmarks/bench_export.py [--sizes 25000 50000 100000] [--clips 40]

Export: four synthetic prepared manifests (Parquet, 25,000 utterances each, dialogues for
context turns) are mixed with class balancing and held-out test splits and exported to chat
JSON Lines + a datasets folder at each size; every export runs in a fresh process, which
prints its wall time and peak RSS (``ru_maxrss``), so flat memory shows as the same peak at
25k, 50k and 100k. Target: 100,000 utterances in < 2 min.

Robustness: each perturbation on ``--clips`` clips of 3 s (generated tones + noise), timed
through ``perturbed_frame`` (decode, perturb, write the cached file), clips per second.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE.parent / "tests")]

CORPORA = {"cremad": ["angry", "disgust", "fear", "happy", "neutral", "sad"],
           "meld": ["neutral", "happy", "surprise", "angry", "sad", "disgust", "fear"],
           "ravdess": ["neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise"],
           "emodb": ["angry", "boredom", "disgust", "fear", "happy", "sad", "neutral"]}

CHILD = r"""
import json, resource, sys, time
sys.path[:0] = {paths!r}
from affectbench.export import export_mixture
from affectbench.mixture import parse
t = time.perf_counter()
s = export_mixture(parse(json.loads({mix!r})), {out!r}, overwrite=True)
print(json.dumps({{"seconds": time.perf_counter() - t, "records": s["splits"]["train"]["records"],
                  "test_records": s["splits"]["test"]["records"],
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def export_rows(d: Path, sizes) -> list[dict]:
    from fixtures.manifest_fixture import write_manifest

    per = max(sizes) // len(CORPORA)
    paths = {n: write_manifest(d / f"{n}.parquet", n, per * 5 // 4, labs, seed=i, dialogues=per // 10)
             for i, (n, labs) in enumerate(CORPORA.items())}  # 4/5 train+dev, the test split held out
    rows = []
    for size in sizes:
        mix = {"name": f"bench-{size}", "labels": ["neutral", "happy", "sad", "angry"], "balance": "class",
               "size": size, "context_turns": 2, "seed": 0,
               "corpus": [{"name": n, "manifest": str(p), "splits": ["train", "dev"]} for n, p in paths.items()],
               "heldout": [{"name": "meld", "manifest": str(paths["meld"]), "splits": ["test"]}]}
        code = CHILD.format(paths=sys.path[:2], mix=json.dumps(mix), out=str(d / f"out-{size}"))
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        r["size"] = size
        r["jsonl_mb"] = (d / f"out-{size}" / "train.jsonl").stat().st_size / 2 ** 20
        rows.append(r)
        print(f"| {size:,} | {r['records']:,} (+{r['test_records']:,} test) | {r['seconds']:.1f} s "
              f"| {r['peak_rss_mb']:.0f} MB | {r['jsonl_mb']:.0f} MB |", flush=True)
    return rows


def perturb_rows(d: Path, clips: int) -> None:
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from affectbench import robustness as R

    os.environ["AFFECTBENCH_HOME"] = str(d / "home")
    rng = np.random.default_rng(0)
    files = []
    for i in range(clips):
        t = np.arange(3 * R.SR) / R.SR
        x = 0.2 * np.sin(2 * np.pi * (120 + 5 * i) * t) + 0.01 * rng.standard_normal(len(t))
        files.append(d / f"c{i}.wav")
        sf.write(files[-1], x.astype(np.float32), R.SR)
    df = pd.DataFrame({"id": [f.stem for f in files], "audio": [str(f) for f in files]})
    items = [{"kind": "noise", "snr": [10], "noise": "white"}, {"kind": "noise", "snr": [10], "noise": "babble"},
             {"kind": "codec", "codec": "mp3", "bitrate": [32]}, {"kind": "codec", "codec": "opus", "bitrate": [16]},
             {"kind": "resample", "rate": [8000]}, {"kind": "clip", "level": [0.3]}, {"kind": "reverb", "rt60": [0.6]}]
    for it in items:
        p = R.parse_perturbations([it])[0]
        t = time.perf_counter()
        R.perturbed_frame(p, df, "audio")
        cold = time.perf_counter() - t
        t = time.perf_counter()
        R.perturbed_frame(p, df, "audio")
        warm = time.perf_counter() - t
        print(f"| {p.name} | {clips / cold:.1f} clips/s ({clips * 3 / cold:.0f}× real time) "
              f"| {clips / warm:.0f} clips/s |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[25000, 50000, 100000])
    ap.add_argument("--clips", type=int, default=40)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print("| training records asked | written | time | peak RSS | train.jsonl |\n|---|---|---|---|---|")
        export_rows(d, a.sizes)
        print("\n| perturbation (3 s clips) | first run (perturb + write) | cached re-run |\n|---|---|---|")
        perturb_rows(d, a.clips)


if __name__ == "__main__":
    main()
