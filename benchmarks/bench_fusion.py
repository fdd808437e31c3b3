"""Fusion heads on an EmotionTalk-sized synthetic fold: fit time, epochs, peak memory.

EmotionTalk has 19,250 utterances; the fold here is 15,400 train / 1,900 valid / 1,950 test,
with three blocks of 768 / 1024 / 768 dimensions (HuBERT-base / a text encoder / CLIP-L sizes)
and four classes whose evidence is split across the modalities (as in the tests). Each head runs
in its own process so its peak RSS (``resource.getrusage(...).ru_maxrss``) is its own.

Frame-level heads read 50-frame sequences (20–50 valid frames per row). At 768/1024/768
dimensions those are 4.9 GB in float16 (9.9 GB in float32), more than the 4 GB budget before
any model exists, so they are written once to a scratch folder and read batch by batch with
``pread`` (no memory map: mapped pages would count as resident), the way a sharded sequence
cache is read. Heads accept such row readers as ``Block.X``.

    python benchmarks/bench_fusion.py                 # every utterance head + MulT
    python benchmarks/bench_fusion.py --quick         # + the other frame heads, capped epochs
    python benchmarks/bench_fusion.py --heads lmf,tfn --frame-heads ""
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N, N_TRAIN, N_VALID = 19_250, 15_400, 1_900
DIMS = (768, 1024, 768)
UTT = ["concat", "late", "tfn", "lmf", "misa", "mmin", "attention"]
FRAME = ["mult", "mfn", "graph_mfn", "mfm", "mctn"]


def labels(n, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    return 2 * a + b, [a, b, a ^ b]


def pooled_blocks(n, seed=0):
    from affectbench.heads.blocks import Block

    y, bits = labels(n, seed)
    rng = np.random.default_rng(seed + 1)
    blocks = []
    for m, (d, bit) in enumerate(zip(DIMS, bits)):
        direction = rng.normal(0, 1, d).astype(np.float32)
        direction /= np.linalg.norm(direction)
        X = rng.standard_normal((n, d), dtype=np.float32)
        X += (1.6 if m < 2 else 1.0) * (2 * bit - 1)[:, None].astype(np.float32) * direction
        blocks.append(Block("ABC"[m], ["audio", "text", "video"][m], X, np.ones(n, bool)))
    return blocks, y


class RowFile:
    """Rows of a ``[n, t, d]`` array in a raw file, read with ``pread`` per batch."""

    def __init__(self, path, shape, dtype, rows):
        self.path, self.full, self.dtype = str(path), tuple(shape), np.dtype(dtype)
        self.rows = np.asarray(rows)
        self.shape = (len(self.rows),) + self.full[1:]
        self.ndim = len(self.shape)
        self.row_bytes = int(np.prod(self.full[1:])) * self.dtype.itemsize
        self.fd = os.open(self.path, os.O_RDONLY)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, idx):
        idx = np.arange(self.shape[0])[idx] if isinstance(idx, slice) else np.asarray(idx)
        out = np.empty((len(idx),) + self.full[1:], self.dtype)
        for i, r in enumerate(self.rows[idx]):
            buf = os.pread(self.fd, self.row_bytes, int(r) * self.row_bytes)
            out[i] = np.frombuffer(buf, self.dtype).reshape(self.full[1:])
        return out


def write_frames(folder: Path, n: int, t: int, seed=0):
    """Three float16 frame files (and lengths, labels), written in chunks; reused if present."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "done.json"
    meta = {"n": n, "t": t, "dims": list(DIMS), "seed": seed}
    if done.exists() and json.loads(done.read_text()) == meta:
        return
    y, bits = labels(n, seed)
    rng = np.random.default_rng(seed + 2)
    lengths = rng.integers(20, t + 1, (3, n))
    np.save(folder / "y.npy", y)
    np.save(folder / "lengths.npy", lengths)
    for m, (d, bit) in enumerate(zip(DIMS, bits)):
        direction = rng.normal(0, 1, d).astype(np.float32)
        direction /= np.linalg.norm(direction)
        s = (1.9 * (1.6 if m < 2 else 1.0))
        with open(folder / f"{'ABC'[m]}.f16", "wb") as f:
            for c in range(0, n, 500):
                r = np.arange(c, min(c + 500, n))
                X = rng.standard_normal((len(r), t, d), dtype=np.float32)
                on = rng.random((len(r), t)) < 0.34
                X += (s * on)[..., None] * (2 * bit[r] - 1)[:, None, None] * direction
                X[np.arange(t)[None, :] >= lengths[m, r][:, None]] = 0
                f.write(X.astype(np.float16).tobytes())
    done.write_text(json.dumps(meta))


def frame_blocks(folder: Path, rows):
    from affectbench.heads.blocks import Block

    meta = json.loads((folder / "done.json").read_text())
    lengths = np.load(folder / "lengths.npy")
    out = []
    for m, d in enumerate(DIMS):
        X = RowFile(folder / f"{'ABC'[m]}.f16", (meta["n"], meta["t"], d), np.float16, rows)
        out.append(Block("ABC"[m], ["audio", "text", "video"][m], X, np.ones(len(rows), bool), lengths[m, rows]))
    return out, np.load(folder / "y.npy")[rows]


def one(kind: str, frames: str | None, options: dict) -> dict:
    """Fit one head on the fold in this process and report time, epochs, peak RSS, test UAR."""
    from affectbench.heads import make_head

    tr, va, te = np.arange(N_TRAIN), np.arange(N_TRAIN, N_TRAIN + N_VALID), np.arange(N_TRAIN + N_VALID, N)
    if frames:
        folder = Path(frames)
        train, y = frame_blocks(folder, tr)
        valid, yv = frame_blocks(folder, va)
        test, yt = frame_blocks(folder, te)
    else:
        from affectbench.heads.blocks import rows

        B, Y = pooled_blocks(N)
        train, y, valid, yv, test, yt = rows(B, tr), Y[tr], rows(B, va), Y[va], rows(B, te), Y[te]
        del B
    head = make_head(kind, seed=0, **options)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    head.fit(train, y, valid, yv, n_classes=4)
    fit_s = time.perf_counter() - t0
    cpu2 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu2.ru_utime - cpu.ru_utime) + (cpu2.ru_stime - cpu.ru_stime)
    pred = head.predict(test)
    uar = float(np.mean([np.mean(pred[yt == c] == c) for c in range(4)]))
    st = head.state()
    return {"head": kind, "fit_s": round(fit_s, 1), "cpu_s": round(cpu_s, 1), "epochs": st["epochs_run"],
            "best_epoch": st["best_epoch"], "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "test_uar": round(uar, 3), "valid_uar": round(st["best_valid"], 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", default=",".join(UTT), help="utterance-level heads (comma-separated)")
    ap.add_argument("--frame-heads", default=None, help="frame-level heads (default: mult; --quick: all)")
    ap.add_argument("--quick", action="store_true", help="all frame heads, at most --quick-epochs epochs each")
    ap.add_argument("--quick-epochs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--scratch", default=os.path.join(tempfile.gettempdir(), "affectbench_bench_frames"))
    ap.add_argument("--set", action="append", default=[], help="head option, e.g. --set epochs=20")
    ap.add_argument("--mult-set", action="append", default=[], help="option for MulT only")
    ap.add_argument("--json", help="write the rows here")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--frame-dir", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(one(a.one, a.frame_dir, json.loads(a.options))), flush=True)
        return

    def opts(items):
        out = {}
        for kv in items:
            k, v = kv.split("=", 1)
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
        return out

    common = opts(a.set)
    frame_heads = a.frame_heads if a.frame_heads is not None else (",".join(FRAME) if a.quick else "mult")
    jobs = [(h, None, dict(common)) for h in a.heads.split(",") if h]
    fh = [h for h in frame_heads.split(",") if h]
    if fh:
        t0 = time.perf_counter()
        write_frames(Path(a.scratch), N, a.frames)
        print(f"frames ready in {a.scratch} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for h in fh:
            o = dict(common)
            if h == "mult":
                o.update(opts(a.mult_set))
            elif a.quick:
                o["epochs"] = min(int(o.get("epochs", a.quick_epochs)), a.quick_epochs)
            jobs.append((h, a.scratch, o))
    rows = []
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    for h, fr, o in jobs:
        cmd = [sys.executable, __file__, "--one", h, "--options", json.dumps(o)] + (["--frame-dir", fr] if fr else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
        if p.returncode or not line:
            print(f"{h}: failed\n{p.stderr[-2000:]}", flush=True)
            continue
        r = json.loads(line[0][7:])
        r["frames"] = bool(fr)
        r["options"] = o
        rows.append(r)
        print(json.dumps(r), flush=True)
    print("\n| head | level | fit s | CPU s | epochs (best) | peak MB | test UAR |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['head']} | {'frame, ' + str(a.frames) if r['frames'] else 'utterance'} | {r['fit_s']} | {r.get('cpu_s')} | "
              f"{r['epochs']} ({r['best_epoch'] + 1}) | {r['peak_mb']} | {r['test_uar']} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
