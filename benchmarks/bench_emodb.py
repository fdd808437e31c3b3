"""EmoDB speed figures: eGeMAPS extraction (1 vs 2 jobs), cold vs cached runs, peak memory,
and the same job in nkululeko when its venv is present.

    python benchmarks/bench_emodb.py [--emodb ../shared/data/emodb] [--nkululeko ../nkvenv/bin/python]

Every timing is a fresh process (imports included), as a user would see it. Run it on an idle
machine: `uptime` is printed next to the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def sh(cmd, env=None, cwd=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{r.stderr[-3000:]}")
    return dt, r


def load():
    return os.getloadavg()[0]


def peak_rss_mb(cmd, env):
    """Peak resident memory of a command and its children (GNU time)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, capture_output=True, text=True, env=env)
    return int(r.stderr.strip().splitlines()[-1]) / 1024 if r.returncode == 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emodb", default=str(REPO.parent / "shared" / "data" / "emodb"))
    ap.add_argument("--nkululeko", default=str(REPO.parent / "nkvenv" / "bin" / "python"))
    ap.add_argument("--repeats", type=int, default=1)
    a = ap.parse_args()
    emodb = Path(a.emodb).resolve()
    spec = REPO / "examples" / "emodb_egemaps_linear.toml"
    exe = [sys.executable, "-m", "affectbench.cli"]
    audio_s = 535 * 2.0  # this copy: every file 2.00 s
    print(f"# EmoDB benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)")
    results = {}
    for jobs in (1, 2):
        for rep in range(a.repeats):
            with tempfile.TemporaryDirectory() as home:
                env = {**os.environ, "AFFECTBENCH_HOME": home}
                l0 = load()
                dt, _ = sh(exe + ["extract", "emodb", str(emodb), "-e", "egemaps", "-j", str(jobs)], env)
                results.setdefault(f"extract_j{jobs}", []).append(dt)
                print(f"egemaps extraction, jobs={jobs}: {dt:.1f} s = {535 / dt:.1f} files/s = "
                      f"{audio_s / dt:.0f}x real time (load {l0:.2f})")
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "AFFECTBENCH_HOME": home}
        base = exe + ["run", str(spec), "--set", f"corpus.root={emodb}", "--json"]
        l0 = load()
        cold, r = sh(base + ["--set", f"output_dir={out}/cold"], env)
        m = json.loads(r.stdout)["pooled"]
        warm, _ = sh(base + ["--set", f"output_dir={out}/warm"], env)
        done, _ = sh(base + ["--set", f"output_dir={out}/warm"], env)
        mem = peak_rss_mb(base + ["--set", f"output_dir={out}/mem"], env)
        print(f"EmoDB LOSO egemaps+linear: cold {cold:.1f} s, features cached {warm:.1f} s "
              f"({cold / warm:.1f}x faster), finished run re-run {done:.2f} s ({cold / done:.0f}x faster); "
              f"peak RSS (cached run) {mem:.0f} MB; load {l0:.2f}")
        print(f"  pooled WAR {m['war']:.3f} UAR {m['uar']:.3f} [{m['ci']['uar'][0]:.3f}, {m['ci']['uar'][1]:.3f}]")
        results.update(cold=cold, warm=warm, done=done)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AFFECTBENCH_HOME": home}
        mem_cold = peak_rss_mb(exe + ["run", str(spec), "--set", f"corpus.root={emodb}",
                                      "--set", f"output_dir={home}/r", "--json"], env)
        print(f"peak RSS, cold run (largest process): {mem_cold:.0f} MB")
    if Path(a.nkululeko).exists():
        with tempfile.TemporaryDirectory() as work:
            l0 = load()
            _, r = sh(["bash", str(HERE / "nkululeko" / "run_nkululeko.sh"), a.nkululeko, work],
                      {**os.environ, "EMODB": str(emodb)})
            nk_cold = float(re.search(r"cold_s=([\d.]+)", r.stdout).group(1))
            nk_cached = float(re.search(r"cached_s=([\d.]+)", r.stdout).group(1))
            print(f"nkululeko eGeMAPS+SVM LOGO: cold {nk_cold:.1f} s, cached {nk_cached:.1f} s (load {l0:.2f})")
            print(f"ratio affectbench/nkululeko: cold {results['cold'] / nk_cold:.2f}, "
                  f"cached {results['warm'] / nk_cached:.2f} (target <= 0.33)")
    else:
        print(f"nkululeko not found at {a.nkululeko}: see benchmarks/nkululeko/README.md")
    j1, j2 = min(results["extract_j1"]), min(results["extract_j2"])
    print(f"2 jobs vs 1: {j1 / j2:.2f}x (target >= 1.6 on an idle machine)")


if __name__ == "__main__":
    main()
