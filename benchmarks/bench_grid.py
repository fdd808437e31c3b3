"""Grid scaling: a 40-cell grid over cached features on 1 worker vs 2 (target: 2 workers ≥ 1.8×).

    python benchmarks/bench_grid.py [--cells 40]

The demo corpus (256 utterances, eGeMAPS + TF-IDF, 8 leave-one-speaker-out folds) with its
features cached first; each timing is a fresh `affectbench grid` process into an empty output
folder, so no cell is reused. Run it on an idle machine: the load average is printed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRID = """
seeds = [{seeds}]
[base]
name = "bench"
output_dir = "{out}"
corpus = {{ name = "demo" }}
features = {{ extractors = ["egemaps", "tfidf"], jobs = 2 }}
metrics = {{ bootstrap = 200 }}

[[axis]]
name = "head"
key = "head.kind"
values = ["linear", "logreg"]

[table]
rows = "head"
metric = "uar"
"""


def grid_seconds(tmp: Path, cells: int, jobs: int, env: dict) -> float:
    out = tmp / f"runs-j{jobs}-{time.time_ns()}"
    p = tmp / f"grid-j{jobs}.toml"
    p.write_text(GRID.format(seeds=", ".join(map(str, range(cells // 2))), out=out))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "affectbench.cli", "grid", str(p), "-j", str(jobs),
                        "-o", str(out / "summary")], capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=40)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        env = {**os.environ, "AFFECTBENCH_HOME": str(tmp / "home")}
        warm = grid_seconds(tmp, 2, 1, env)  # extracts and caches the features
        print(f"load average {os.getloadavg()[0]:.2f}; warm-up (features extracted) {warm:.1f} s")
        one = grid_seconds(tmp, a.cells, 1, env)
        two = grid_seconds(tmp, a.cells, 2, env)
        print(f"| cells | 1 worker | 2 workers | speed-up |\n|---|---|---|---|\n"
              f"| {a.cells} | {one:.1f} s | {two:.1f} s | {one / two:.2f}× |")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
