"""Leaderboard and compare speed: 500 synthetic run folders, one 500-row table, sorted in chromium.

    PYTHONPATH=src python benchmarks/bench_leaderboard.py [--runs 500] [--out /tmp/lb-bench]

Writes the run folders once (synthetic, like tests/runfolder_factory.py), then times
``affectbench leaderboard`` end to end in a fresh process (imports included), sorting the
500-row table in headless chromium (median of 5 clicks per column), and ``compare`` of 10
runs with 10,000 bootstrap resamples and 10,000 permutations. Figures go in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from runfolder_factory import make_run  # noqa: E402

BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--out", type=Path, default=Path("/tmp/lb-bench"))
    ap.add_argument("--keep", action="store_true", help="reuse run folders already there")
    a = ap.parse_args()
    runs_dir, site = a.out / "runs", a.out / "site"
    if not a.keep or not runs_dir.exists():
        shutil.rmtree(a.out, ignore_errors=True)
        t = time.perf_counter()
        for i in range(a.runs):
            make_run(runs_dir, f"system{i:03d}-{i:08x}", 0.45 + 0.4 * ((i * 37) % a.runs) / a.runs,
                     n_speakers=8, per_speaker=60, extractors=(f"enc{i % 7}", f"txt{i % 5}"), seed=i, n_boot=1000)
        print(f"synthesised {a.runs} run folders in {time.perf_counter() - t:.1f} s")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "affectbench.cli", "leaderboard", str(runs_dir), "-o", str(site)],
                   check=True, env=env)
    build = time.perf_counter() - t
    print(f"leaderboard over {a.runs} runs: {build:.2f} s (fresh process, imports included); "
          f"load average {os.getloadavg()[0]:.1f}")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=BROWSER_ARGS)
        page = b.new_page()
        t = time.perf_counter()
        page.goto((site / "index.html").as_uri())
        page.wait_for_load_state("load")
        print(f"page load: {time.perf_counter() - t:.2f} s")
        times = page.evaluate("""() => {
            const out = {};
            const ths = document.querySelectorAll('table.sortable thead th.sortable');
            for (const th of ths) {
              const ts = [];
              for (let i = 0; i < 5; i++) {
                const t0 = performance.now(); th.click(); document.body.offsetHeight; ts.push(performance.now() - t0);
              }
              ts.sort((a, b) => a - b);
              out[th.textContent.trim()] = ts[2];
            }
            return out;
        }""")
        rows = page.locator("table.sortable tbody tr").count()
        b.close()
    worst = max(times.values())
    print(f"sorting {rows} rows: median per column {json.dumps({k: round(v, 1) for k, v in times.items()})} ms; "
          f"worst {worst:.1f} ms")

    from affectbench.compare import compare
    from affectbench.runfolders import load_runs

    first10 = sorted(runs_dir.iterdir())[:10]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "affectbench.cli", "compare", *map(str, first10), "--json",
                    "--bootstrap", "10000", "--permutations", "10000"], check=True, env=env, capture_output=True)
    print(f"affectbench compare of 10 runs, 10,000 resamples + 10,000 permutations: "
          f"{time.perf_counter() - t:.2f} s (fresh process, imports included)")
    ten, _ = load_runs(first10)
    t = time.perf_counter()
    compare(ten, n_boot=10000, n_perm=10000)
    print(f"compare of 10 runs (480 utterances, 8 speakers), 10,000 resamples + 10,000 permutations, "
          f"45 pairs: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
