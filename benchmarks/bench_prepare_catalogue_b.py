"""How long ``prepare`` takes on FULL-SIZE copies of the corpora-b catalogue corpora, and how much memory.

For each corpus the fixture writer (``tests/fixtures/<name>_fixture.py``, ``size="full"``)
builds a synthetic copy with the release's shape (every file of the native layout, the
release's counts, tiny real media) in a temporary folder; then a fresh Python process runs
``affectbench.prepare(name, root)`` once and reports its wall time, the process's peak RSS
(``ru_maxrss``: interpreter + imports + prepare) and whether the copy passes the verified
counts (``problems`` must be 0 on a complete copy). Copies are built and deleted one at a
time.

    python benchmarks/bench_prepare_catalogue_b.py                # all corpora
    python benchmarks/bench_prepare_catalogue_b.py mead veatic    # some
    python benchmarks/bench_prepare_catalogue_b.py --keep DIR     # keep the copies in DIR

Targets (issue 12): each < 60 s and < 1 GB. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # the fixture writers are shared with the tests

# row -> (fixture module, keyword arguments of its build()); a row "name:key=value" prepares
# corpus `name` with that option (get_corpus(name, key=value))
CORPORA = {
    "mead": ("mead_fixture", {}),
    "chsims2": ("chsims2_fixture", {}),
    "emotionlines": ("emotionlines_fixture", {}),
    "dailydialog": ("dailydialog_fixture", {}),
    "semeval2018_ec": ("semeval2018_fixture", {}),
    "semeval2018_vreg": ("semeval2018_fixture", {}),
    "caers": ("caers_fixture", {}),
    "ferv39k": ("ferv39k_fixture", {"frames": 2}),
    "veatic": ("veatic_fixture", {}),
    "veatic:window=10": ("veatic_fixture", {}),
    "eav": ("eav_fixture", {}),
    "emogator": ("emogator_fixture", {}),
    "rafdb": ("rafdb_fixture", {}),
}

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from affectbench.corpora import get_corpus
t1 = time.perf_counter()
p = get_corpus(sys.argv[1], **json.loads(sys.argv[3])).prepare(sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"rows": len(p.manifest), "problems": p.problems, "warnings": len(p.warnings),
                  "import_s": t1 - t0, "prepare_s": t2 - t1,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(name: str, base: Path) -> tuple[Path, float, int]:
    mod, kw = CORPORA[name]
    fx = importlib.import_module(f"fixtures.{mod}")
    t = time.perf_counter()
    root = fx.build(base, size="full", **kw)
    if name.startswith("semeval"):
        root = base
    files = sum(1 for p in Path(base).rglob("*") if p.is_file())
    return Path(root), time.perf_counter() - t, files


def measure(name: str, root: Path) -> dict:
    src = str(REPO / "src")
    env = {"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    t = time.perf_counter()
    corpus, _, opt = name.partition(":")
    options = {k: float(v) for k, v in (o.split("=") for o in opt.split(",") if o)}
    out = subprocess.run([sys.executable, "-c", CHILD, corpus, str(root), json.dumps(options)],
                         capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - t
    if out.returncode:
        raise SystemExit(f"{name}: prepare failed:\n{out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpora", nargs="*", default=list(CORPORA))
    ap.add_argument("--keep", type=Path, help="build the copies here and keep them")
    args = ap.parse_args()
    rows = []
    for name in args.corpora:
        base = (args.keep / name) if args.keep else Path(tempfile.mkdtemp(prefix=f"ab_{name}_"))
        try:
            root, build_s, files = build(name, base)
            r = measure(name, root)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
        ok = r["prepare_s"] < 60 and r["rss_mb"] < 1024 and not r["problems"]
        rows.append((name, r["rows"], files, build_s, r["prepare_s"], r["wall_s"], r["rss_mb"],
                     len(r["problems"]), r["warnings"], ok))
        print(f"{name}: {r['rows']} rows, prepare {r['prepare_s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB, "
              f"problems {r['problems'][:2]}", file=sys.stderr, flush=True)
    print("| corpus | rows | files | build (s) | prepare (s) | process wall (s) | peak RSS (MB) | "
          "problems | warnings | < 60 s and < 1 GB, complete |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, n, files, b, p, w, rss, pr, wa, ok in rows:
        print(f"| {name} | {n} | {files} | {b:.1f} | {p:.2f} | {w:.2f} | {rss:.0f} | {pr} | {wa} | "
              f"{'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
