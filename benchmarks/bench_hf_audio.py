"""Throughput of ``hf-audio`` on a base-size HuBERT: length-bucketed vs unsorted batches.

A HuBERT-base-shaped model (``HubertConfig()`` defaults: 12 layers, hidden 768, GroupNorm CNN
as hubert-base-ls960; random weights: speed does not depend on them) is saved to a temporary
folder and loaded through the extractor's real path. The audio is EmoDB
(``shared/data/emodb/wav``), made mixed-length: each clip is cropped to a random 0.5–2 s, or
(one in four) concatenated with the next clip and cropped to 2–4 s.

Each configuration runs in its own spawned process (so peak memory is its own), calling
``process_batch`` on chunks of ``chunk_size`` items as the extraction pool does:

* ``bucketed``  chunks sorted by length, neighbours batched (the default);
* ``unsorted``  the same batch size in manifest order (padding to each batch's longest);
* ``single``    batch_size 1 (no padding at all).

Reported: items/s, × real time (audio seconds per wall second, and per CPU second of the
process: on a busy machine wall time mostly measures the neighbours, CPU time with one
thread measures us), peak RSS, and the largest
difference between the bucketed and unsorted vectors (padding must not change results).
The machine is shared: the load average is printed before and after; quote ratios from one run.

    python benchmarks/bench_hf_audio.py [--items 96] [--batch-size 8] [--threads 2] [--json out.json]

Measured on the 2-core dev machine, 96 clips (160 s of audio), batch 8:

=================  =========  ==========  ===========  ==============
load average       threads    bucketed    unsorted     one by one
=================  =========  ==========  ===========  ==============
0.9 (quiet)        2          14.1x RT    8.6x RT      13.8x RT
6-10 (busy)        1          4.8x RT     4.0x RT      –
=================  =========  ==========  ===========  ==============

Bucketing over unsorted batches: 1.64x (quiet); under load the wall-clock ratio swung 1.2-1.7x
with the neighbours, the CPU-time ratio stayed 1.3-1.6x. Per CPU
second, one thread encodes ~7.2 s of audio. Bucketed and unsorted vectors agree to 8e-7.
Peak RSS ~1.6-1.8 GB per process. On CPU a batch of one is as fast as bucketed batches (no
padding either way); batching pays on a GPU, and bucketing is what keeps it from paying for
padding. With two intra-op threads on a busy machine throughput halves (thread sync): prefer
``jobs = 2`` (one thread each) there.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EMODB = Path(__file__).resolve().parents[2] / "shared" / "data" / "emodb" / "wav"
SR = 16000


def make_clips(src: Path, out: Path, n: int, seed: int) -> list[dict]:
    import soundfile as sf

    from affectbench import audio

    files = sorted(src.glob("*.wav"))
    if not files:
        sys.exit(f"no wav files in {src}")
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n):
        x = audio.load(files[i % len(files)], SR)
        if rng.random() < 0.25:
            x = np.concatenate([x, audio.load(files[(i + 1) % len(files)], SR)])
            dur = rng.uniform(2.0, 4.0)
        else:
            dur = rng.uniform(0.5, 2.0)
        m = min(len(x), int(dur * SR))
        start = int(rng.integers(0, len(x) - m + 1))
        p = out / f"clip{i:04d}.wav"
        sf.write(p, x[start:start + m], SR)
        items.append({"id": f"clip{i:04d}", "audio": str(p), "seconds": m / SR})
    return items


def build_model(d: Path) -> None:
    import torch
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    torch.manual_seed(0)
    HubertModel(HubertConfig()).eval().save_pretrained(d)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, do_normalize=True,
                             return_attention_mask=False).save_pretrained(d)


def _worker(args):
    mode, model, items, batch_size, threads, q = args
    import torch

    torch.set_num_threads(threads)
    from affectbench.features.hf_audio import HFAudio

    # fp32 with padded batches on the CPU: what this script measured before issue 13
    # (benchmarks/bench_encoders.py measures the defaults, bf16 and unpadded CPU batches)
    ex = HFAudio(model=model, layer="last", batch_size=1 if mode == "single" else batch_size,
                 precision="fp32", device="cpu")
    ex._bucket = mode != "unsorted"
    ex._pad_cpu = True
    ex.ensure_setup()
    ex.process_batch(items[:2])  # warm-up (allocator, kernels)
    t = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    out = []
    for s in range(0, len(items), ex.chunk_size):
        out += ex.process_batch(items[s:s + ex.chunk_size])
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    bad = [o for o in out if not isinstance(o, np.ndarray)]
    q.put({"mode": mode, "wall_s": wall, "cpu_s": cpu, "errors": len(bad), "exact": ex._exact,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "X": np.stack([o for o in out if isinstance(o, np.ndarray)])})


def run_mode(mode, model, items, batch_size, threads):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=((mode, model, items, batch_size, threads, q),))
    p.start()
    res = q.get()
    p.join()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--modes", default="bucketed,unsorted,single")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--emodb", type=Path, default=EMODB)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        build_model(tmp / "hubert-base")
        print(f"built HuBERT-base (random weights) in {time.perf_counter() - t:.1f} s")
        (tmp / "wav").mkdir()
        items = make_clips(a.emodb, tmp / "wav", a.items, a.seed)
        secs = sum(it["seconds"] for it in items)
        lens = np.array([it["seconds"] for it in items])
        print(f"{len(items)} clips, {secs:.1f} s of audio (min {lens.min():.2f} s, median "
              f"{np.median(lens):.2f} s, max {lens.max():.2f} s); batch {a.batch_size}, "
              f"{a.threads} torch thread(s); load average {load0[0]:.1f}")
        clean = [{"id": it["id"], "audio": it["audio"]} for it in items]
        results = {}
        for mode in a.modes.split(","):
            r = run_mode(mode, str(tmp / "hubert-base"), clean, a.batch_size, a.threads)
            r["items_per_s"] = len(items) / r["wall_s"]
            r["x_real_time"] = secs / r["wall_s"]
            r["x_real_time_per_cpu_s"] = secs / r["cpu_s"]
            results[mode] = r
            print(f"  {mode:9s} {r['wall_s']:7.1f} s wall {r['cpu_s']:7.1f} s CPU  {r['items_per_s']:6.2f} items/s  "
                  f"{r['x_real_time']:6.2f}x real time ({r['x_real_time_per_cpu_s']:.2f}x per CPU second)  "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB"
                  f"{'  ERRORS ' + str(r['errors']) if r['errors'] else ''}")
    summary = {"items": len(items), "audio_s": secs, "batch_size": a.batch_size, "threads": a.threads,
               "load_before": load0[0], "load_after": os.getloadavg()[0],
               "modes": {m: {k: v for k, v in r.items() if k != "X"} for m, r in results.items()}}
    if "bucketed" in results and "unsorted" in results:
        summary["bucketing_speedup"] = results["unsorted"]["wall_s"] / results["bucketed"]["wall_s"]
        summary["bucketing_speedup_cpu"] = results["unsorted"]["cpu_s"] / results["bucketed"]["cpu_s"]
        summary["max_abs_diff_bucketed_vs_unsorted"] = float(
            np.abs(results["bucketed"]["X"] - results["unsorted"]["X"]).max())
        print(f"bucketing speed-up over unsorted batches: {summary['bucketing_speedup']:.2f}x wall, "
              f"{summary['bucketing_speedup_cpu']:.2f}x CPU (target >= 1.3); max |bucketed - unsorted| = "
              f"{summary['max_abs_diff_bucketed_vs_unsorted']:.1e}")
    if "single" in results and "bucketed" in results:
        summary["bucketing_vs_single"] = results["single"]["wall_s"] / results["bucketed"]["wall_s"]
        summary["bucketing_vs_single_cpu"] = results["single"]["cpu_s"] / results["bucketed"]["cpu_s"]
        summary["max_abs_diff_bucketed_vs_single"] = float(
            np.abs(results["bucketed"]["X"] - results["single"]["X"]).max())
        print(f"bucketed batches vs one by one: {summary['bucketing_vs_single']:.2f}x wall, "
              f"{summary['bucketing_vs_single_cpu']:.2f}x CPU; max |diff| = "
              f"{summary['max_abs_diff_bucketed_vs_single']:.1e}")
    print(f"load average after: {summary['load_after']:.1f}")
    if a.json:
        a.json.write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    main()
