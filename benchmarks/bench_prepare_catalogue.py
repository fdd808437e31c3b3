"""Time and peak memory of ``affectbench.prepare`` on FULL-SIZE synthetic copies of the catalogue corpora.

    python benchmarks/bench_prepare_catalogue.py                 # every corpus below
    python benchmarks/bench_prepare_catalogue.py esd fer2013     # some of them
    python benchmarks/bench_prepare_catalogue.py --keep DIR ...  # build into DIR and keep it

Each corpus is written in its native layout at its full size (the fixture writers of
tests/fixtures/ with the release's counts; media are 0.01 s WAVs, FER2013's CSV has real
2304-value pixel rows) into a temporary folder, then ``prepare`` runs in a fresh process
(imports included in the time, as a user sees it) with a fresh AFFECTBENCH_HOME, and that
process reports its wall time and peak RSS (ru_maxrss: interpreter and libraries included);
"again" is a second prepare with the same cache (FER2013 decodes its pixels only once).
Target (issue 12): every corpus < 60 s and < 1 GB on 2 cores. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fixture writers are shared with the tests


def _m3ed(root):
    from fixtures import m3ed_fixture

    names = [f"series{i:02d}" for i in range(56)]
    return m3ed_fixture.build(root, {"train": names[:38], "val": names[38:45], "test": names[45:]},
                              dialogues=18, turns=24)  # 24 192 utterances (the release: 24 449)


def _mosei(root):
    from fixtures import cmu_mosei_fixture

    videos = [v for vs in cmu_mosei_fixture.sdk_videos().values() for v in vs]  # all 3228
    return cmu_mosei_fixture.build(root, videos, total=cmu_mosei_fixture.FULL_SEGMENTS)


def builders():
    from fixtures import (casia_fixture, emovdb_fixture, esd_fixture, fer2013_fixture, msp_podcast_fixture,
                          savee_fixture, shemo_fixture, subesco_fixture, tess_fixture)

    return {
        "tess": lambda r: tess_fixture.build(r, n_words=200),
        "savee": lambda r: savee_fixture.build(r),
        "casia": lambda r: casia_fixture.build(r),
        "subesco": lambda r: subesco_fixture.build(r),
        "shemo": lambda r: shemo_fixture.build(r, counts=shemo_fixture.FULL),
        "emovdb": lambda r: emovdb_fixture.build(r, total=emovdb_fixture.FULL_TOTAL),
        "esd": lambda r: esd_fixture.build(r),
        "fer2013": lambda r: fer2013_fixture.build(r, fer2013_fixture.FULL_USAGE, fer2013_fixture.FULL_EMOTION),
        "msp_podcast": lambda r: msp_podcast_fixture.build(
            r, {"Train": 84030, "Development": 19815, "Test1": 30647, "Test2": 14815}),
        "m3ed": _m3ed,
        "cmu_mosei": _mosei,
    }


CHILD = """
import json, resource, sys, time
t = time.perf_counter()
import affectbench as ab
p = ab.prepare(sys.argv[1], sys.argv[2])
dt = time.perf_counter() - t
print(json.dumps({"n": len(p.manifest), "s": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "problems": len(p.problems), "warnings": len(p.warnings)}))
"""


def measure(name: str, root: Path, home: Path) -> dict:
    env = {"AFFECTBENCH_HOME": str(home), "PYTHONPATH": str(HERE.parent / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHILD, name, str(root)], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode:
        raise SystemExit(f"{name}: prepare failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpora", nargs="*")
    ap.add_argument("--keep", help="build the copies into this folder and keep them")
    args = ap.parse_args()
    table = builders()
    names = args.corpora or list(table)
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise SystemExit(f"unknown corpus {unknown}; valid: {', '.join(table)}")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_catalogue_"))
    print("| corpus | rows | build (s) | prepare (s) | peak RSS (MB) | again (s) | verified-count problems "
          "| < 60 s and < 1 GB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    try:
        for name in names:
            root = work / name
            t = time.perf_counter()
            if not root.exists():
                table[name](root)
            built = time.perf_counter() - t
            m = measure(name, root, work / f"home_{name}")
            again = measure(name, root, work / f"home_{name}")  # same cache: what a second prepare costs
            ok = "yes" if m["s"] < 60 and m["rss_mb"] < 1024 else "NO"
            print(f"| {name} | {m['n']} | {built:.1f} | {m['s']:.1f} | {m['rss_mb']:.0f} | {again['s']:.1f} "
                  f"| {m['problems']} | {ok} |", flush=True)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
